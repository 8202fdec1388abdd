//! Compile-time checks of the hook macros: every misuse is a compile error at the offending
//! token with a message that says the fix (`tests/ui/fail`), and correct uses compile and run
//! (`tests/ui/pass`). Regenerate the expected output with `TRYBUILD=overwrite`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
