//! The console accounts the flow tests log in with, and the browserless client they use
//! (`onevisit_test_support::console`).

pub use onevisit_test_support::console::{Answer, ConsoleClient, hidden};

use crate::{Deployment, admin_with_input};

/// The city administrator's password in the tests.
pub const ADMIN_PASSWORD: &str = "correct-horse-admin";
/// The fire brigade supervisor's password in the tests.
pub const FIRE_PASSWORD: &str = "correct-horse-fire";

/// Adds the city's administrator (`admin`) and the fire brigade's supervisor (`fire`).
pub fn add_accounts(city: &impl Deployment) {
    for (name, role, department, password) in
        [("admin", "administrator", None, ADMIN_PASSWORD), ("fire", "supervisor", Some("xfjy"), FIRE_PASSWORD)]
    {
        let mut args = vec!["user", "add", name, "--role", role];
        if let Some(d) = department {
            args.extend(["--department", d]);
        }
        let (ok, out, err) = admin_with_input(city.data(), &args, &format!("{password}\n"));
        assert!(ok && out.contains("已添加"), "{out}{err}");
    }
}
