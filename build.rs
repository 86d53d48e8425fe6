// Embeds the demo snapshot (data/demo/*.parquet) so that `occlens` works from any directory,
// names the source it is built from (`OCCLENS_SOURCE_HASH`: part of the cache key, so a
// rebuilt occlens never reads a cache an older build wrote), and on Linux links occlens as a
// position-dependent executable (see below).
use std::hash::{Hash, Hasher};
use std::{env, fs, path::Path};

fn hash_dir(dir: &Path, h: &mut impl Hasher) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            hash_dir(&p, h);
        } else if let Ok(bytes) = fs::read(&p) {
            p.file_name().hash(h);
            bytes.hash(h);
        }
    }
}

fn main() {
    // On Linux, occlens is linked as a position-dependent executable: the dynamic loader then
    // has no relocations to apply at start (a position-independent build carries 287k of
    // them: about 4.5 ms of every command, 8% of a detail request's whole process). The price
    // is the address randomisation of the executable's own code and data; OCCLENS_PIE=1 at
    // build time keeps a position-independent executable. A static build (crt-static) is
    // left as rustc links it.
    println!("cargo:rerun-if-env-changed=OCCLENS_PIE");
    let linux_gnu = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    let crt_static =
        env::var("CARGO_CFG_TARGET_FEATURE").is_ok_and(|f| f.split(',').any(|f| f == "crt-static"));
    if linux_gnu && !crt_static && env::var_os("OCCLENS_PIE").is_none() {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).to_path_buf();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for sub in ["src", "queries"] {
        println!("cargo:rerun-if-changed={}", root.join(sub).display());
        hash_dir(&root.join(sub), &mut h);
    }
    println!("cargo:rustc-env=OCCLENS_SOURCE_HASH={:016x}", h.finish());
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
