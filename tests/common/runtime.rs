//! Whether the ONNX Runtime library is here, for the tests that run an encoder
//! (tests/embed.rs, tests/screenshot.rs). Declared by those tests beside `mod common;`, not from
//! tests/common/mod.rs, which the library's unit tests include too.

/// Whether inference tests can run; reports the test as skipped when they cannot
/// (`IVT_REQUIRE_ORT`: it must be there, and not finding it fails the test).
pub fn have_runtime() -> bool {
    match ivt::embed::runtime::find() {
        Ok(_) => true,
        Err(_) => {
            crate::common::skip(
                &format!(
                    "ONNX Runtime not found ({})",
                    ivt::embed::runtime::install_hint()
                ),
                Some("IVT_REQUIRE_ORT"),
            );
            false
        }
    }
}
