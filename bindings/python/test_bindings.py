"""The generated Python bindings load the host build of the core and raise typed errors.

Run by scripts/test.sh: `python3 bindings/python/test_bindings.py target/debug`.
"""

import atexit
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def load(lib_dir):
    """Copies the module beside the library (where uniffi's loader looks) and imports it."""
    work = tempfile.mkdtemp()
    # The copied library is ~100 MB: never leave it behind.
    atexit.register(shutil.rmtree, work, True)
    shutil.copy(os.path.join(HERE, "onevisit.py"), work)
    shutil.copy(os.path.join(lib_dir, "libonevisit_ffi.so"), work)
    sys.path.insert(0, work)
    import onevisit  # noqa: E402

    return onevisit, work


class BindingsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.key = onevisit.KeyProtection.KEY_FILE(os.path.join(self.dir, "k"))

    def test_a_new_store_knows_its_inspector_and_device_key(self):
        store = onevisit.DeviceStore.open(os.path.join(self.dir, "s"), self.key, "scjg-01")
        info = store.device_info()
        self.assertEqual(info.inspector, "scjg-01")
        self.assertEqual(len(info.public_key_hex), 64)
        self.assertIsNone(info.server_url)

    def test_opening_a_missing_store_without_an_inspector_is_not_initialised(self):
        with self.assertRaises(onevisit.StoreError.NotInitialised):
            onevisit.DeviceStore.open(os.path.join(self.dir, "none"), self.key, None)

    def test_a_record_call_before_directory_data_names_the_problem(self):
        store = onevisit.DeviceStore.open(os.path.join(self.dir, "s"), self.key, "scjg-01")
        with self.assertRaises(onevisit.RecordError.InvalidInput):
            store.inspection("not-a-task-code")
        with self.assertRaises(onevisit.StoreError.NoDirectory):
            store.departments()

    def test_a_garbage_task_code_is_malformed(self):
        with self.assertRaises(onevisit.TaskCodeError.Malformed):
            onevisit.verify_task_code("garbage", "00" * 32)


if __name__ == "__main__":
    onevisit, _work = load(sys.argv.pop(1) if len(sys.argv) > 1 else "target/debug")
    unittest.main(verbosity=1)
