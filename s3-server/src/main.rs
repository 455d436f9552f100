//! `onevisit-s3-server`: the S3 protocol of `s3s-fs` over a folder, on loopback, with one access
//! key. The test harness (`test-support/src/s3.rs`) starts it on port 0 and reads the address from
//! the first line of stdout; buckets are the folder's subfolders.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use hyper_util::rt::{TokioExecutor, TokioIo};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

/// 测试用的 S3 兼容服务器（s3s-fs，对象即文件）。
#[derive(Debug, Parser)]
struct Args {
    /// 监听地址。
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// 访问密钥 ID。
    #[arg(long)]
    access_key: String,
    /// 访问密钥。
    #[arg(long)]
    secret_key: String,
    /// 存放桶和对象的目录。
    root: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match serve(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误：{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let fs = s3s_fs::FileSystem::new(&args.root).map_err(|e| format!("无法使用目录 {}：{e:?}", args.root.display()))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(args.access_key, args.secret_key));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("正在监听 {}", listener.local_addr()?);
    let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    loop {
        let (socket, _) = listener.accept().await?;
        let connection = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
        tokio::spawn(async move {
            // A connection that fails is that client's problem, not the server's.
            let _ = connection.await;
        });
    }
}
