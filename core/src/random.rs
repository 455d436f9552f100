//! Randomness from the operating system.

/// Fills `buf` from the operating system's CSPRNG.
///
/// A device without a working CSPRNG cannot make keys, nonces or codes safely, so this aborts
/// loudly rather than return predictable bytes.
pub fn fill(buf: &mut [u8]) {
    if let Err(e) = getrandom::fill(buf) {
        panic!("the operating system's random number generator failed: {e}");
    }
}
