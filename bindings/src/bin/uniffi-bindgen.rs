//! Generates the Kotlin, Swift and Python bindings from a built (unstripped) `onevisit_ffi` library.

fn main() {
    uniffi::uniffi_bindgen_main()
}
