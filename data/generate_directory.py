#!/usr/bin/env python3
"""Generates data/pinghu-directory.json: the sample directory of a Pinghu joint-inspection team.

Names of departments follow the source article; enterprises, inspectors and certificate numbers are
fictitious. USCC check characters are computed here independently of the Rust code (GB 32100-2015).
Deterministic: run it again and the file does not change.
"""
import json
import pathlib
import random

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc(first17: str) -> str:
    s = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS))
    return first17 + ALPHABET[(31 - s % 31) % 31]


# (id, name, short name, document number prefix)
DEPARTMENTS = [
    ("zhzf", "平湖市综合行政执法局", "综合执法局", "平综执"),
    ("scjg", "平湖市市场监督管理局", "市场监管局", "平市监"),
    ("sthj", "嘉兴市生态环境局平湖分局", "生态环境分局", "嘉环平"),
    ("wsjk", "平湖市卫生健康局", "卫生健康局", "平卫健"),
    ("yjgl", "平湖市应急管理局", "应急管理局", "平应急"),
    ("xfjy", "平湖市消防救援大队", "消防救援大队", "平消"),
    ("nync", "平湖市农业农村局", "农业农村局", "平农"),
    ("jtys", "平湖市交通运输局", "交通运输局", "平交"),
    ("jsj", "平湖市住房和城乡建设局", "建设局", "平建"),
]

# Per department: (administrative review authority (复议机关, 复议法 2023 第二十四条: the government at
# the same level, or for a vertically led branch its superior), the court, contact, whether its orders
# are titled by kind (fire: 责令立即改正 / 责令限期改正, 规定 19)).
LEGAL_DEPARTMENT = {
    "zhzf": ("平湖市人民政府", "平湖市人民法院", "综合执法局法制科 0573-85011201", False),
    "scjg": ("平湖市人民政府", "平湖市人民法院", "市场监管局法规科 0573-85012315", False),
    "sthj": ("嘉兴市生态环境局", "平湖市人民法院", "生态环境分局执法大队 0573-85013369", False),
    "wsjk": ("平湖市人民政府", "平湖市人民法院", "卫生健康局监督科 0573-85014120", False),
    "yjgl": ("平湖市人民政府", "平湖市人民法院", "应急管理局执法大队 0573-85015350", False),
    "xfjy": ("平湖市人民政府", "平湖市人民法院", "消防救援大队防火监督科 0573-85016119", True),
    "nync": ("平湖市人民政府", "平湖市人民法院", "农业农村局执法大队 0573-85017116", False),
    "jtys": ("平湖市人民政府", "平湖市人民法院", "交通运输局执法大队 0573-85018128", False),
    "jsj": ("平湖市人民政府", "平湖市人民法院", "建设局安全监督站 0573-85019110", False),
}

# Per department: (the power to inspect, the power to order rectification), where no matter says more.
DEPARTMENT_POWERS = {
    "zhzf": ("《城市市容和环境卫生管理条例》第四条", "《中华人民共和国行政处罚法》第二十八条第一款"),
    "scjg": ("《中华人民共和国食品安全法》第一百一十条", "《中华人民共和国行政处罚法》第二十八条第一款"),
    "sthj": ("《中华人民共和国环境保护法》第二十四条", "《中华人民共和国行政处罚法》第二十八条第一款"),
    "wsjk": ("《公共场所卫生管理条例》第十条", "《中华人民共和国行政处罚法》第二十八条第一款"),
    "yjgl": ("《中华人民共和国安全生产法》第六十五条", "《中华人民共和国安全生产法》第六十五条第一款第（三）项"),
    "xfjy": ("《中华人民共和国消防法》第五十三条", "《中华人民共和国消防法》第六十条第一款第（一）项"),
    "nync": ("《农药管理条例》第四十一条", "《中华人民共和国行政处罚法》第二十八条第一款"),
    "jtys": ("《中华人民共和国道路运输条例》第五十九条", "《中华人民共和国行政处罚法》第二十八条第一款"),
    "jsj": ("《建设工程安全生产管理条例》第四十三条", "《建设工程安全生产管理条例》第四十三条第一款第（三）项"),
}

# Matters whose powers differ from their department's.
MATTER_POWERS = {
    "SCJG-001": ("《中华人民共和国食品安全法》第一百一十条", "《中华人民共和国食品安全法》第一百二十六条第一款"),
    "XFJY-001": ("《中华人民共和国消防法》第五十三条", "《中华人民共和国消防法》第六十条第一款第（一）项"),
}

PF = {"type": "pass_fail"}
TEXT = {"type": "text"}
PHOTO = {"type": "photo"}


def num(unit, lo=None, hi=None):
    d = {"type": "number", "unit": unit}
    if lo is not None:
        d["min"] = lo
    if hi is not None:
        d["max"] = hi
    return d


# (department, title, legal basis, [(check point title, answer type)])
MATTERS = [
    ("zhzf", "户外广告设施设置检查", "《浙江省城市市容和环境卫生管理条例》第二十二条", [
        ("户外广告设施是否经审批设置", PF), ("广告设施是否牢固、无破损", PF), ("现场照片", PHOTO)]),
    ("zhzf", "门前责任区市容环境卫生检查", "《城市市容和环境卫生管理条例》第十七条", [
        ("是否落实门前三包责任", PF), ("是否存在店外经营、占道经营", PF)]),
    ("zhzf", "建筑垃圾处置检查", "《城市建筑垃圾管理规定》第九条", [
        ("是否取得建筑垃圾处置核准", PF), ("运输车辆是否密闭运输", PF), ("现场照片", PHOTO)]),
    ("zhzf", "餐饮油烟排放检查", "《中华人民共和国大气污染防治法》第八十一条", [
        ("是否安装油烟净化设施并正常使用", PF), ("油烟净化设施最近清洗日期", TEXT)]),
    ("scjg", "食品经营许可及经营过程检查", "《中华人民共和国食品安全法》第三十五条", [
        ("是否在显著位置悬挂食品经营许可证", PF), ("从业人员是否持有效健康证明", PF),
        ("冷藏设施温度", num("℃", -30, 15)), ("是否存在超过保质期的食品", PF)]),
    ("scjg", "特种设备使用安全检查", "《中华人民共和国特种设备安全法》第三十二条", [
        ("特种设备是否办理使用登记", PF), ("是否在检验有效期内", PF), ("作业人员是否持证上岗", PF),
        ("设备铭牌照片", PHOTO)]),
    ("scjg", "计量器具使用检查", "《中华人民共和国计量法》第九条", [
        ("强制检定计量器具是否按期检定", PF), ("抽检器具示值误差", num("g", 0, 1000))]),
    ("scjg", "明码标价检查", "《明码标价和禁止价格欺诈规定》第五条", [
        ("商品和服务是否明码标价", PF), ("是否存在价格欺诈行为", PF)]),
    ("scjg", "产品质量监督检查", "《中华人民共和国产品质量法》第二十七条", [
        ("产品标识是否符合规定", PF), ("是否生产销售不合格产品", PF), ("抽样情况说明", TEXT)]),
    ("sthj", "排污许可执行情况检查", "《排污许可管理条例》第十七条", [
        ("是否依法取得排污许可证", PF), ("是否按证排污", PF), ("排放口标志牌照片", PHOTO)]),
    ("sthj", "危险废物贮存与转移检查", "《中华人民共和国固体废物污染环境防治法》第七十九条", [
        ("危废贮存场所是否规范设置", PF), ("是否建立危废管理台账", PF), ("危废贮存量", num("t", 0, 10000))]),
    ("sthj", "污染防治设施运行检查", "《中华人民共和国水污染防治法》第三十九条", [
        ("污水处理设施是否正常运行", PF), ("在线监测数据是否正常传输", PF), ("现场pH值", num("pH", 0, 14))]),
    ("sthj", "建设项目环评及“三同时”检查", "《建设项目环境保护管理条例》第十五条", [
        ("是否依法履行环评手续", PF), ("环保设施是否与主体工程同时投产", PF)]),
    ("wsjk", "公共场所卫生检查", "《公共场所卫生管理条例》第六条", [
        ("是否取得卫生许可证", PF), ("从业人员是否持健康合格证明", PF), ("室内空气温度", num("℃", -10, 50))]),
    ("wsjk", "职业病危害防治检查", "《中华人民共和国职业病防治法》第二十五条", [
        ("是否开展职业病危害因素检测", PF), ("是否为劳动者配备防护用品", PF), ("岗位噪声强度", num("dB(A)", 0, 150))]),
    ("wsjk", "生活饮用水卫生检查", "《生活饮用水卫生监督管理办法》第七条", [
        ("供水单位是否取得卫生许可", PF), ("水质检测报告情况", TEXT)]),
    ("wsjk", "医疗废物管理检查", "《医疗废物管理条例》第十六条", [
        ("医疗废物是否分类收集", PF), ("暂存点照片", PHOTO)]),
    ("yjgl", "安全生产主体责任落实检查", "《中华人民共和国安全生产法》第二十一条", [
        ("是否建立全员安全生产责任制", PF), ("是否开展安全生产教育培训", PF), ("隐患排查治理记录", TEXT)]),
    ("yjgl", "危险化学品储存使用检查", "《危险化学品安全管理条例》第二十四条", [
        ("危化品是否专库专储", PF), ("是否建立出入库登记", PF), ("仓库照片", PHOTO)]),
    ("yjgl", "有限空间作业检查", "《工贸企业有限空间作业安全规定》第六条", [
        ("是否设置有限空间警示标识", PF), ("是否制定作业审批制度", PF)]),
    ("yjgl", "粉尘防爆安全检查", "《工贸企业粉尘防爆安全规定》第十条", [
        ("除尘系统是否规范设置", PF), ("粉尘清扫记录是否完整", PF)]),
    ("xfjy", "消防安全检查", "《中华人民共和国消防法》第十六条第一款第（二）项", [
        ("消防设施器材是否完好有效", PF), ("疏散通道、安全出口是否畅通", PF), ("灭火器压力表读数", num("MPa", 0, 3)),
        ("消防控制室照片", PHOTO)]),
    ("xfjy", "人员密集场所消防检查", "《机关、团体、企业、事业单位消防安全管理规定》第二十一条", [
        ("是否开展每日防火巡查", PF), ("是否组织消防演练", PF)]),
    ("xfjy", "电动自行车充电场所检查", "《高层民用建筑消防安全管理规定》第三十七条", [
        ("是否存在违规室内充电", PF), ("充电设施是否具备自动断电功能", PF)]),
    ("nync", "农药经营许可检查", "《农药管理条例》第二十四条", [
        ("是否取得农药经营许可证", PF), ("是否建立进货销售台账", PF), ("是否销售禁用农药", PF)]),
    ("nync", "兽药经营质量检查", "《兽药管理条例》第二十七条", [
        ("兽药是否按规定储存", PF), ("抽查兽药批次", TEXT)]),
    ("nync", "畜禽养殖污染防治检查", "《畜禽规模养殖污染防治条例》第十三条", [
        ("粪污处理设施是否正常运行", PF), ("现场照片", PHOTO)]),
    ("jtys", "道路货物运输经营检查", "《中华人民共和国道路运输条例》第二十四条", [
        ("是否取得道路运输经营许可", PF), ("车辆是否按期年审", PF), ("驾驶员是否持从业资格证", PF)]),
    ("jtys", "危险货物道路运输检查", "《危险货物道路运输安全管理办法》第三十一条", [
        ("是否配备专职安全管理人员", PF), ("车辆卫星定位装置是否正常", PF)]),
    ("jtys", "港口码头经营检查", "《中华人民共和国港口法》第二十二条", [
        ("是否取得港口经营许可", PF), ("堆场是否规范", PF)]),
    ("jsj", "建筑施工安全检查", "《建设工程安全生产管理条例》第二十六条", [
        ("是否编制专项施工方案", PF), ("脚手架是否验收合格", PF), ("塔吊照片", PHOTO)]),
    ("jsj", "燃气经营使用安全检查", "《城镇燃气管理条例》第二十八条", [
        ("燃气器具是否安装熄火保护装置", PF), ("是否安装可燃气体报警器", PF), ("气瓶数量", num("瓶", 0, 500))]),
    ("jsj", "物业服务检查", "《物业管理条例》第三十五条", [
        ("是否按合同履行物业服务", PF), ("公共区域消防设施维护情况", TEXT)]),
]

TOWNS = ["当湖街道", "钟埭街道", "曹桥街道", "乍浦镇", "新埭镇", "新仓镇", "独山港镇", "林埭镇", "广陈镇", "平湖经济技术开发区"]
ROADS = ["新华北路", "胜利路", "东湖大道", "环城北路", "三港路", "平善大道", "乍王公路", "兴平路", "新凯路", "经一路"]
TRADES = [
    ("服装有限公司", "91"), ("箱包制品有限公司", "91"), ("光机电科技有限公司", "91"), ("食品有限公司", "91"),
    ("化工有限公司", "91"), ("物流有限公司", "91"), ("建设工程有限公司", "91"), ("餐饮管理有限公司", "91"),
    ("农业发展有限公司", "93"), ("超市", "92"), ("酒店管理有限公司", "91"), ("印染有限公司", "91"),
]
# The industry (行业) of each trade: what decides which matters apply to an enterprise in a draw.
INDUSTRY = {
    "服装有限公司": "制造业", "箱包制品有限公司": "制造业", "光机电科技有限公司": "制造业", "食品有限公司": "食品生产",
    "化工有限公司": "化工", "物流有限公司": "交通运输", "建设工程有限公司": "建筑业", "餐饮管理有限公司": "餐饮",
    "农业发展有限公司": "农业", "超市": "批发零售", "酒店管理有限公司": "住宿", "印染有限公司": "制造业",
}
# The industries each matter applies to, by matter id (absent: every industry).
MATTER_INDUSTRIES = {
    "ZHZF-002": ["餐饮", "批发零售", "住宿"], "ZHZF-003": ["建筑业"], "ZHZF-004": ["餐饮", "住宿"],
    "SCJG-001": ["餐饮", "食品生产", "批发零售", "住宿"], "SCJG-003": ["批发零售", "食品生产", "餐饮"],
    "SCJG-004": ["批发零售", "餐饮", "住宿"], "SCJG-005": ["制造业", "食品生产", "化工"],
    "STHJ-001": ["制造业", "化工", "食品生产"], "STHJ-002": ["化工", "制造业"],
    "STHJ-003": ["化工", "制造业", "食品生产"], "STHJ-004": ["制造业", "化工", "食品生产", "建筑业"],
    "WSJK-001": ["住宿", "餐饮", "批发零售"], "WSJK-002": ["制造业", "化工"], "WSJK-003": ["食品生产", "住宿"],
    "WSJK-004": ["医疗卫生"],
    "YJGL-002": ["化工"], "YJGL-003": ["制造业", "化工", "食品生产"], "YJGL-004": ["制造业"],
    "XFJY-002": ["批发零售", "餐饮", "住宿"],
    "NYNC-001": ["农业", "批发零售"], "NYNC-002": ["农业"], "NYNC-003": ["农业"],
    "JTYS-001": ["交通运输"], "JTYS-002": ["交通运输", "化工"], "JTYS-003": ["交通运输"],
    "JSJ-001": ["建筑业"], "JSJ-002": ["餐饮", "住宿", "食品生产"],
}
NAMES = ["华盛", "嘉禾", "东湖", "当湖", "乍港", "新埭", "金平", "恒达", "伟业", "鸿运", "永兴", "瑞丰", "丰茂",
         "海通", "九龙山", "平兴", "景兴", "顺达", "兴旺", "鼎盛"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗沈顾陆钱"
GIVEN = ["伟", "芳", "敏", "静", "磊", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "建国", "晓东", "丽华", "志强"]


def main():
    rng = random.Random(20261128)
    departments = [{"id": i, "name": n, "short_name": s, "document_prefix": p} for i, n, s, p in DEPARTMENTS]

    inspectors = []
    for d_index, (dept, _, _, _) in enumerate(DEPARTMENTS):
        for k in range(3):
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            inspectors.append({
                "id": f"{dept}-{k + 1:02d}",
                "name": name,
                "certificate_number": f"330482{d_index + 1:02d}{rng.randrange(1000, 9999)}",
                "department": dept,
            })

    matters = []
    per_dept = {}
    for dept, title, basis, points in MATTERS:
        per_dept[dept] = per_dept.get(dept, 0) + 1
        mid = f"{dept.upper()}-{per_dept[dept]:03d}"
        matters.append({
            "id": mid, "department": dept, "title": title, "legal_basis": basis,
            "check_points": [{"id": f"{mid}-{j + 1:02d}", "title": t, "answer": a} for j, (t, a) in enumerate(points)],
        })
        if mid in MATTER_INDUSTRIES:
            matters[-1]["industries"] = MATTER_INDUSTRIES[mid]

    enterprises = []
    used = set()
    while len(enterprises) < 60:
        trade, reg = rng.choice(TRADES)
        name = "平湖市" + rng.choice(NAMES) + trade
        if name in used:
            continue
        used.add(name)
        org = "".join(rng.choice(ALPHABET) for _ in range(9))
        code = uscc(reg + "330482" + org)
        town = rng.choice(TOWNS)
        enterprises.append({
            "uscc": code,
            "name": name,
            "address": f"浙江省平湖市{town}{rng.choice(ROADS)}{rng.randrange(1, 999)}号",
            "location": {"latitude": round(30.62 + rng.uniform(0, 0.2), 6), "longitude": round(120.95 + rng.uniform(0, 0.2), 6)},
            "credit_grade": rng.choice("AABBBCCD"),
            "town": town,
            "industry": INDUSTRY[trade],
        })

    # A fourth inspector per department (added after the enterprises, so that those stay as they
    # were): two officers can still be drawn for an enterprise when one declared a conflict and
    # another inspected it last time.
    for d_index, (dept, _, _, _) in enumerate(DEPARTMENTS):
        inspectors.append({
            "id": f"{dept}-04",
            "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
            "certificate_number": f"330482{d_index + 1:02d}{rng.randrange(1000, 9999)}",
            "department": dept,
        })
    inspectors.sort(key=lambda i: i["id"])

    # Declared conflicts of interest (回避): each department's third inspector with one enterprise
    # (a relative works there), chosen without the random generator so the rest stays as it was.
    for d_index, (dept, _, _, _) in enumerate(DEPARTMENTS):
        inspector = next(i for i in inspectors if i["id"] == f"{dept}-03")
        inspector["conflicts"] = [enterprises[(d_index * 7 + 3) % len(enterprises)]["uscc"]]

    # What the legal documents print (added last, with no draw from the random generator above, so
    # everything before stays as it was): each department's administrative review authority, the
    # court, a contact line; each matter's power to inspect and power to order rectification; each
    # enterprise's legal representative and licences (主体资格证照).
    for d in departments:
        review, court, contact, order_titles = LEGAL_DEPARTMENT[d["id"]]
        d["review_authority"] = review
        d["court"] = court
        d["contact"] = contact
        if order_titles:
            d["order_titles_by_kind"] = True
    for m in matters:
        power, order = MATTER_POWERS.get(m["id"], DEPARTMENT_POWERS[m["department"]])
        m["power_basis"] = power
        m["order_basis"] = order
    people = random.Random("legal representatives")
    for e in enterprises:
        e["legal_representative"] = people.choice(SURNAMES) + people.choice(GIVEN)
        e["licences"] = [f"营业执照（统一社会信用代码 {e['uscc']}）"]
        if e["industry"] in ("餐饮", "食品生产", "批发零售", "住宿"):
            e["licences"].append(f"食品经营许可证（JY{e['uscc'][8:17]}{people.randrange(10000, 99999)}）")

    data = {"departments": departments, "inspectors": inspectors, "enterprises": enterprises, "matters": matters}
    out = pathlib.Path(__file__).with_name("pinghu-directory.json")
    out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{out}: {len(departments)} departments, {len(inspectors)} inspectors, "
          f"{len(enterprises)} enterprises, {len(matters)} matters")


if __name__ == "__main__":
    main()
