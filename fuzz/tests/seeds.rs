//! Every committed seed goes through its target's checks on any toolchain, without libFuzzer,
//! so that `cargo test` alone catches a seed that no longer passes.

use std::path::Path;

#[test]
fn every_seed_passes_its_target() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    for (name, check) in pusherable_fuzz::TARGETS {
        let dir = seeds.join(name);
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a readable seed directory").path();
            let input = std::fs::read(&path).expect("a readable seed");
            println!("{name}: {}", path.display());
            check(&input);
            count += 1;
        }
        assert!(count > 0, "{name} has no seeds");
    }
}
