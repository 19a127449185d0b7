//! placeholder
#[test]
fn bootstrap() {
    let p = apify_tests::python::python();
    assert!(p.exists());
}
