//! The layer writer against a layer real apko wrote: unpacking the base_image layout's layers
//! and writing them again must give the same bytes (the same diff_id).

use apko::fs::Tree;
use apko::image::base::BaseImage;
use apko::image::config::Arch;
use apko::image::layer::{Layer, tar};
use std::path::Path;

const BASE_IMAGE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/testdata/apko-cli/base_image"
);

#[test]
fn rewriting_apkos_layer_gives_the_same_diff_id() {
    for (arch, diff_id) in [
        (
            "amd64",
            "sha256:783b8b05724ae7998917558527ef930f1442af2f071850913fc406992e44606c",
        ),
        (
            "arm64",
            "sha256:2888aac57b90cf66093aa48092bf1f1f1b1bdb85bde8601a5f8cf0f06c814763",
        ),
    ] {
        let base = BaseImage::open(Path::new(BASE_IMAGE), &Arch::parse(arch)).unwrap();
        assert_eq!(base.layers.len(), 1);
        assert_eq!(base.layers[0].diff_id, diff_id);
        let mut tree = Tree::new();
        base.unpack(&mut tree).unwrap();
        let mut raw = Vec::new();
        tar::write(&tree, &mut raw);
        let layer = Layer::from_tar(&raw, 2);
        assert_eq!(layer.diff_id, diff_id, "{arch}");
    }
}
