//! The helper side: any stdin and any action never panics, and the exit code is 0 or 1.
#![no_main]
use apko_credential::serve::{Error, Helper, HelperInfo};
use apko_credential::{CredentialList, Credentials, serve};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::collections::BTreeMap;

#[derive(Default)]
struct Mem(RefCell<BTreeMap<String, Credentials>>);

impl Helper for Mem {
    fn info(&self) -> HelperInfo {
        HelperInfo { name: "fuzz", package: "fuzz", version: "0" }
    }
    fn add(&self, c: &Credentials) -> Result<(), Error> {
        self.0.borrow_mut().insert(c.server_url.clone(), c.clone());
        Ok(())
    }
    fn get(&self, url: &str) -> Result<Credentials, Error> {
        self.0.borrow().get(url).cloned().ok_or(Error::NotFound)
    }
    fn erase(&self, url: &str) -> Result<(), Error> {
        self.0.borrow_mut().remove(url).map(|_| ()).ok_or(Error::NotFound)
    }
    fn list(&self) -> Result<CredentialList, Error> {
        Ok(self.0.borrow().iter().map(|(k, v)| (k.clone(), v.username.clone())).collect())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, stdin)) = data.split_first() else {
        return;
    };
    let helper = Mem::default();
    let actions = ["store", "get", "erase", "list", "version", "frob", "--help"];
    let action = actions[usize::from(which) % actions.len()];
    let mut out = Vec::new();
    let code = serve(&helper, vec![action.to_string()], stdin, &mut out);
    assert!(code == 0 || code == 1, "exit {code}");
    // A stored entry reads back, when its key survives `get`'s stdin rules (Go's too: a key
    // with a newline inside or blanks at its ends can be stored but never asked for).
    if action == "store" && code == 0 {
        let url = helper.0.borrow().keys().next().cloned().unwrap();
        if apko_credential::wire::parse_server_url(&url).as_deref() != Some(url.as_str()) {
            return;
        }
        let mut out = Vec::new();
        assert_eq!(serve(&helper, vec!["get"], url.as_bytes(), &mut out), 0);
    }
});
