// Embeds the demo snapshot (data/demo/*.parquet) so that `occlens` works from any directory.
use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("data/demo");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.retain(|p| p.extension().is_some_and(|x| x == "parquet"));
    entries.sort();
    let mut out = String::from("&[\n");
    for p in entries {
        println!("cargo:rerun-if-changed={}", p.display());
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        out.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}) as &[u8]),\n",
            p.display().to_string()
        ));
    }
    out.push(']');
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("demo_files.rs"),
        out,
    )
    .unwrap();
}
