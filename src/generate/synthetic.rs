pub fn synthetic(_n: usize, _seed: u64) -> super::SnapshotBuilder {
    super::SnapshotBuilder::new()
}
