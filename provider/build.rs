//! Builds the one C function Rust cannot write (a `va_list` call), and marks the library
//! NODELETE: OpenSSL `dlclose()`s providers at cleanup while the async runtime's threads may still
//! be parked in our code, so the code must stay mapped until the process ends.

fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    cc::Build::new()
        .file("src/shim.c")
        .warnings(true)
        .compile("kms_openssl_provider_shim");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
