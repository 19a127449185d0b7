//! placeholder
#[test]
fn provision() {
    let p = apify_tests::python::python();
    let out = apify_tests::python::run_script(
        "import apify_client, jsonschema; print(apify_client.__file__)",
        &[],
        std::path::Path::new("/tmp"),
        &[],
    );
    println!("{} {}", p.display(), String::from_utf8_lossy(&out.stdout));
}
