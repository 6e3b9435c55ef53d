//! The OpenSSL provider refuses to start in a process whose libcrypto is not the one it links
//! (issue #12: never a second OpenSSL in one process). Here the vendored OpenSSL 3.6 of this test
//! binary (`--features vendored`, linked statically) loads the provider built against the system
//! libcrypto: the load must fail, with our reason on the error queue.
#![cfg(feature = "vendored")]

use std::path::PathBuf;

/// The provider of the system build (run-all.sh builds it before the vendored stage).
fn system_provider() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("KMS_OPENSSL_PROVIDER_SO").map(PathBuf::from),
        Some(root.join("target/debug/deps/libkms_openssl_provider.so")),
        Some(root.join("target/debug/libkms_openssl_provider.so")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("the system build of the provider is missing: run `cargo build -p kms-openssl-provider` first (interop-tests/run-all.sh does)")
        })
}

#[test]
fn the_provider_refuses_a_process_whose_libcrypto_is_another_copy() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(system_provider(), dir.path().join("kms_openssl.so")).unwrap();
    openssl::provider::Provider::set_default_search_path(None, dir.path().to_str().unwrap())
        .unwrap();
    let Err(err) = openssl::provider::Provider::try_load(None, "kms_openssl", true) else {
        panic!("the provider started on a second libcrypto");
    };
    assert!(
        err.to_string()
            .contains("links another libcrypto than the one loading it"),
        "{err}"
    );
}
