//! The provider loaded into this process through the `openssl` crate, as any libcrypto
//! application loads it: eight threads sign at once through one loaded provider and every
//! signature verifies with the public key; a forked child signs too (the async runtime does not
//! survive `fork()`, so the child must start its own).

#[path = "common.rs"]
mod common;

use std::ffi::{CString, c_char, c_int, c_void};
use std::io::Read;
use std::os::fd::FromRawFd;

use common::{Kms0, bytes};
use foreign_types::ForeignType;
use kms_openssl::core::spec::{KeySpec, KeyUsage};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::provider::Provider;
use openssl::sign::{Signer, Verifier};

type StoreCtx = c_void;
type StoreInfo = c_void;
unsafe extern "C" {
    fn OSSL_STORE_open(
        uri: *const c_char,
        ui_method: *const c_void,
        ui_data: *mut c_void,
        post_process: *const c_void,
        post_process_data: *mut c_void,
    ) -> *mut StoreCtx;
    fn OSSL_STORE_load(ctx: *mut StoreCtx) -> *mut StoreInfo;
    fn OSSL_STORE_INFO_get1_PKEY(info: *const StoreInfo) -> *mut openssl_sys::EVP_PKEY;
    fn OSSL_STORE_INFO_free(info: *mut StoreInfo);
    fn OSSL_STORE_close(ctx: *mut StoreCtx) -> c_int;
}

/// `OSSL_STORE_open` + `OSSL_STORE_load`: the key a `kms:` URI names.
fn load_key(uri: &str) -> PKey<Private> {
    let c = CString::new(uri).unwrap();
    // SAFETY: plain OSSL_STORE calls; the info and context are freed, the key is owned by PKey.
    unsafe {
        let ctx = OSSL_STORE_open(
            c.as_ptr(),
            std::ptr::null(),
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null_mut(),
        );
        assert!(
            !ctx.is_null(),
            "OSSL_STORE_open({uri}): {}",
            openssl::error::ErrorStack::get()
        );
        let info = OSSL_STORE_load(ctx);
        assert!(
            !info.is_null(),
            "OSSL_STORE_load({uri}): {}",
            openssl::error::ErrorStack::get()
        );
        let pkey = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
        OSSL_STORE_close(ctx);
        assert!(!pkey.is_null(), "no key from {uri}");
        PKey::from_ptr(pkey)
    }
}

fn sign(key: &PKey<Private>, msg: &[u8]) -> Vec<u8> {
    let mut s = Signer::new(MessageDigest::sha256(), key).expect("EVP_DigestSignInit");
    s.update(msg).expect("EVP_DigestSignUpdate");
    s.sign_to_vec().expect("EVP_DigestSignFinal")
}

fn verifies(public: &PKey<Public>, msg: &[u8], sig: &[u8]) -> bool {
    let mut v = Verifier::new(MessageDigest::sha256(), public).expect("EVP_DigestVerifyInit");
    v.update(msg).expect("EVP_DigestVerifyUpdate");
    v.verify(sig).unwrap_or(false)
}

// One test in this binary: it sets the process environment and forks.
#[test]
fn eight_threads_sign_through_one_loaded_provider_and_a_forked_child_signs_too() {
    let k = Kms0::start();
    k.key(KeySpec::EccNistP256, KeyUsage::SignVerify, "threads");
    let public = PKey::public_key_from_pem(&k.read("threads.pem")).expect("PEM");
    // SAFETY: set before any thread of this test reads the environment; the SDK reads the
    // credentials from it, as it would in any application.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", common::ADMIN.0);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", common::ADMIN.1);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    Provider::set_default_search_path(None, common::provider_dir().to_str().unwrap())
        .expect("search path");
    let _default = Provider::load(None, "default").expect("default provider");
    let _kms = Provider::load(None, "kms_openssl").expect("kms_openssl provider");
    let uri = format!("kms:alias/threads?region=us-east-1&endpoint={}", k.endpoint);
    let key = load_key(&uri);

    let signatures: Vec<(Vec<u8>, Vec<u8>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let key = &key;
                s.spawn(move || {
                    (0..12)
                        .map(|i| {
                            let msg = bytes(t * 100 + i, 500 + (i as usize) * 997);
                            let sig = sign(key, &msg);
                            (msg, sig)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a signing thread panicked"))
            .collect()
    });
    assert_eq!(signatures.len(), 96);
    for (i, (msg, sig)) in signatures.iter().enumerate() {
        assert!(verifies(&public, msg, sig), "signature {i} does not verify");
    }

    // A forked child signs with the key loaded before the fork.
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe(2) into a local array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let msg = bytes(4242, 3000);
    // SAFETY: the child only signs, writes to the pipe and leaves with _exit, never returning
    // into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = match std::panic::catch_unwind(|| sign(&key, &msg)) {
            Ok(sig) => {
                // SAFETY: the write end of our pipe.
                let n = unsafe { libc::write(fds[1], sig.as_ptr().cast(), sig.len()) };
                if n == sig.len() as isize { 0 } else { 2 }
            }
            Err(_) => 1,
        };
        // SAFETY: leave the child without running the parent's destructors or atexit handlers.
        unsafe { libc::_exit(code) };
    }
    // SAFETY: close our copy of the write end; read the child's end of the pipe.
    unsafe { libc::close(fds[1]) };
    // SAFETY: fds[0] is ours alone from here.
    let mut reader = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    let mut child_sig = Vec::new();
    reader
        .read_to_end(&mut child_sig)
        .expect("read the child's signature");
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked child failed to sign (status {status})"
    );
    assert!(
        verifies(&public, &msg, &child_sig),
        "the child's signature does not verify"
    );
    // And the parent still signs after the fork.
    let after = sign(&key, &msg);
    assert!(verifies(&public, &msg, &after));
}
