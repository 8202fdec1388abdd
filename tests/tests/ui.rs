//! Compile-time checks of the hook macros: every misuse is a compile error at the offending
//! token with a message that says the fix (`tests/ui/fail`), and correct uses compile and run
//! (`tests/ui/pass`). Regenerate the expected output with `TRYBUILD=overwrite`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}

/// What a user reads names only what a user wrote or can name: no expected error output mentions
/// forkline's internals (the generated code's door, its linkme registries, the handler's capture
/// machinery, the hook descriptors).
#[test]
fn no_error_message_names_an_internal() {
    const INTERNAL: &[&str] = &[
        "__private",
        "__forkline",
        "linkme",
        "IntoHookResult",
        "lifecycle::hooks",
        "handler::capture",
        "ViaChain",
        "ViaError",
        "ViaDisplay",
        "ErrorRef",
        "HookSite",
        "HookResult",
        "block_on_hook",
        "err_ref",
        "into_hook_result",
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/fail");
    let mut seen = Vec::new();
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/ui/fail") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "stderr") {
            read += 1;
            let text = std::fs::read_to_string(&path).expect("stderr file");
            for name in INTERNAL {
                if text.contains(name) {
                    seen.push(format!("{}: {name}", path.display()));
                }
            }
        }
    }
    assert!(read >= 30, "only {read} .stderr files in {}", dir.display());
    assert!(
        seen.is_empty(),
        "internal names in error messages:\n{}",
        seen.join("\n")
    );
}
