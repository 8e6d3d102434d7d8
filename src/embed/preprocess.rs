//! Image → model input: the preprocessing a model was trained with, stated once (preset, TOML
//! file, command-line flags) and applied exactly, because an encoder fed differently scaled or
//! ordered pixels returns embeddings that look plausible and are wrong.

use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView};
use serde::Deserialize;

/// How an image is brought to the model's input size.
// The names below are also those of the model's TOML file (serde, kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResizeMode {
    Stretch,
    CenterCrop,
}

crate::choice::choice!(ResizeMode {
    Stretch => "stretch", "Resize to the input size, ignoring the aspect ratio (the reference tool's way)";
    CenterCrop => "center-crop", "Resize the shorter side (to size / crop fraction), then cut the centre (torchvision's `Resize` + `CenterCrop`)";
});

/// Order of the colour channels the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

crate::choice::choice!(ChannelOrder {
    Rgb => "rgb", "";
    Bgr => "bgr", "Caffe- and OpenCV-trained models";
});

/// Pixel values before mean and std are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueRange {
    #[serde(rename = "0-1")]
    Unit,
    #[serde(rename = "0-255")]
    Raw255,
}

crate::choice::choice!(ValueRange {
    Unit => "0-1", "0–1 (torchvision's `ToTensor`)";
    Raw255 => "0-255", "0–255, the raw bytes (the reference tool's Lightning path fed these unnormalised)";
});

/// Memory order of the input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TensorLayout {
    Nchw,
    Nhwc,
}

crate::choice::choice!(TensorLayout {
    Nchw => "nchw", "Batch, channel, height, width (PyTorch)";
    Nhwc => "nhwc", "Batch, height, width, channel (TensorFlow/Keras)";
});

/// Named starting points; any field can then be overridden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    Imagenet,
    Raw255,
}

crate::choice::choice!(Preset {
    Imagenet => "imagenet", "torchvision ImageNet models: resize 256 + centre crop 224 (fraction 0.875), RGB, 0–1, ImageNet mean and std";
    Raw255 => "raw255", "The reference tool's self-supervised path: stretch, RGB, raw 0–255, no normalisation";
});

/// Everything that decides the input tensor of one image, fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// Width × height; `None` until taken from the model's input shape.
    pub size: Option<(u32, u32)>,
    pub resize: ResizeMode,
    /// Centre crop: the shorter side is resized to size / fraction before cutting (0.875 for
    /// the usual 256 → 224). Ignored by `stretch`.
    pub crop_fraction: f32,
    pub channels: ChannelOrder,
    pub range: ValueRange,
    /// Per model input channel, in the model's channel order, on the scale of `range`.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// `None`: read from the model's input shape.
    pub layout: Option<TensorLayout>,
}

impl Preprocess {
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Imagenet => Self {
                size: None,
                resize: ResizeMode::CenterCrop,
                crop_fraction: 0.875,
                channels: ChannelOrder::Rgb,
                range: ValueRange::Unit,
                mean: [0.485, 0.456, 0.406],
                std: [0.229, 0.224, 0.225],
                layout: None,
            },
            Preset::Raw255 => Self {
                size: None,
                resize: ResizeMode::Stretch,
                crop_fraction: 1.0,
                channels: ChannelOrder::Rgb,
                range: ValueRange::Raw255,
                mean: [0.0; 3],
                std: [1.0; 3],
                layout: None,
            },
        }
    }

    /// This preprocessing with every field `spec` sets replaced; checks the result.
    pub fn with(mut self, spec: &PreprocessSpec) -> Result<Self, String> {
        if let Some(size) = spec.size {
            self.size = Some(size.width_height());
        }
        self.resize = spec.resize.unwrap_or(self.resize);
        self.crop_fraction = spec.crop_fraction.unwrap_or(self.crop_fraction);
        self.channels = spec.channels.unwrap_or(self.channels);
        self.range = spec.range.unwrap_or(self.range);
        if let Some(m) = spec.mean {
            self.mean = m;
        }
        if let Some(s) = spec.std {
            self.std = s;
        }
        self.layout = spec.layout.or(self.layout);
        self.check()?;
        Ok(self)
    }

    fn check(&self) -> Result<(), String> {
        if let Some((w, h)) = self.size
            && (w == 0 || h == 0 || w > 8192 || h > 8192)
        {
            return Err(format!("input size {w}×{h}: each side must be 1–8192"));
        }
        if !(self.crop_fraction > 0.0 && self.crop_fraction <= 1.0) {
            return Err(format!(
                "crop fraction {}: must be in (0, 1]",
                self.crop_fraction
            ));
        }
        if let Some(s) = self.std.iter().find(|s| !(s.is_finite() && **s != 0.0)) {
            return Err(format!("std {s}: every std must be finite and non-zero"));
        }
        if let Some(m) = self.mean.iter().find(|m| !m.is_finite()) {
            return Err(format!("mean {m}: must be finite"));
        }
        Ok(())
    }

    /// One line for logs and for the cache key (every field that changes the tensor).
    pub fn describe(&self, geometry: &InputGeometry) -> String {
        let resize = match self.resize {
            ResizeMode::Stretch => "stretched".to_owned(),
            ResizeMode::CenterCrop => format!("centre crop (fraction {})", self.crop_fraction),
        };
        let channels = match (geometry.channels, self.channels) {
            (1, _) => "grey",
            (_, ChannelOrder::Rgb) => "RGB",
            (_, ChannelOrder::Bgr) => "BGR",
        };
        let range = match self.range {
            ValueRange::Unit => "0-1",
            ValueRange::Raw255 => "0-255",
        };
        let layout = match geometry.layout {
            TensorLayout::Nchw => "NCHW",
            TensorLayout::Nhwc => "NHWC",
        };
        format!(
            "{}×{} {resize}, {channels} {range}, mean {:?}, std {:?}, {layout}",
            geometry.width, geometry.height, self.mean, self.std,
        )
    }

    /// Write the input tensor of `img` (one item, `geometry.item_len()` values) into `out`.
    pub fn fill(&self, img: &DynamicImage, geometry: &InputGeometry, out: &mut [f32]) {
        debug_assert_eq!(out.len(), geometry.item_len());
        let (w, h) = (geometry.width, geometry.height);
        let sized = match self.resize {
            ResizeMode::Stretch => resize_exact(img, w, h),
            ResizeMode::CenterCrop => center_crop(img, w, h, self.crop_fraction),
        };
        let scale = match self.range {
            ValueRange::Unit => 1.0 / 255.0,
            ValueRange::Raw255 => 1.0,
        };
        let plane = (w * h) as usize;
        let c = geometry.channels;
        // The model's channel k reads source channel `src[k]` of the RGB image.
        let src: [usize; 3] = match self.channels {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        };
        let mul: Vec<f32> = (0..c).map(|k| scale / self.std[k]).collect();
        let add: Vec<f32> = (0..c).map(|k| -self.mean[k] / self.std[k]).collect();
        let mut put = |pixel: usize, k: usize, v: u8| {
            let value = f32::from(v) * mul[k] + add[k];
            match geometry.layout {
                TensorLayout::Nchw => out[k * plane + pixel] = value,
                TensorLayout::Nhwc => out[pixel * c + k] = value,
            }
        };
        if c == 1 {
            for (i, p) in sized.to_luma8().pixels().enumerate() {
                put(i, 0, p.0[0]);
            }
        } else {
            // Grey images are replicated to three channels by the conversion.
            for (i, p) in sized.to_rgb8().pixels().enumerate() {
                for (k, &s) in src.iter().enumerate() {
                    put(i, k, p.0[s]);
                }
            }
        }
    }
}

fn resize_exact(img: &DynamicImage, w: u32, h: u32) -> DynamicImage {
    if img.dimensions() == (w, h) {
        img.clone()
    } else {
        // Triangle = bilinear with antialiasing, like torchvision's default resize.
        img.resize_exact(w, h, FilterType::Triangle)
    }
}

fn center_crop(img: &DynamicImage, w: u32, h: u32, fraction: f32) -> DynamicImage {
    let (iw, ih) = img.dimensions();
    let scale =
        (f64::from(w) / f64::from(iw)).max(f64::from(h) / f64::from(ih)) / f64::from(fraction);
    let rw = ((f64::from(iw) * scale).round() as u32).max(w);
    let rh = ((f64::from(ih) * scale).round() as u32).max(h);
    let resized = resize_exact(img, rw, rh);
    resized.crop_imm((rw - w) / 2, (rh - h) / 2, w, h)
}

/// Shape of one item's input, resolved from the model and the preprocessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputGeometry {
    pub layout: TensorLayout,
    /// 1 (grey models) or 3.
    pub channels: usize,
    pub width: u32,
    pub height: u32,
}

impl InputGeometry {
    pub fn item_len(&self) -> usize {
        self.channels * self.width as usize * self.height as usize
    }

    /// The tensor shape of a batch of `n`.
    pub fn shape(&self, n: usize) -> [usize; 4] {
        let (c, h, w) = (self.channels, self.height as usize, self.width as usize);
        match self.layout {
            TensorLayout::Nchw => [n, c, h, w],
            TensorLayout::Nhwc => [n, h, w, c],
        }
    }

    /// Resolve a model input shape (`-1` or `0` for a free dimension) against the preprocessing.
    pub fn resolve(dims: &[i64], pre: &Preprocess) -> Result<Self, String> {
        let shown = dims
            .iter()
            .map(|d| {
                if *d > 0 {
                    d.to_string()
                } else {
                    "?".to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        if dims.len() != 4 {
            return Err(format!(
                "the model input has shape [{shown}]; an image encoder takes a 4-D batch of images (NCHW or NHWC)"
            ));
        }
        let fixed = |d: i64| (d > 0).then_some(d as usize);
        let is_channels = |d: i64| d == 1 || d == 3;
        let layout = match pre.layout {
            Some(l) => l,
            None => match (is_channels(dims[1]), is_channels(dims[3])) {
                (false, true) => TensorLayout::Nhwc,
                // Free dimensions or both plausible: PyTorch exports, by far the commonest.
                _ => TensorLayout::Nchw,
            },
        };
        let (c, h, w) = match layout {
            TensorLayout::Nchw => (dims[1], dims[2], dims[3]),
            TensorLayout::Nhwc => (dims[3], dims[1], dims[2]),
        };
        let channels = fixed(c).unwrap_or(3);
        if channels != 1 && channels != 3 {
            return Err(format!(
                "the model input has shape [{shown}]: {channels} channels as {layout:?}; only 1 (grey) or 3 (colour) are supported (is the layout right? {} nchw|nhwc)",
                crate::hint::LAYOUT
            ));
        }
        let (width, height) = match (fixed(w), fixed(h), pre.size) {
            (Some(w), Some(h), Some((sw, sh))) if (sw as usize, sh as usize) != (w, h) => {
                return Err(format!(
                    "the model input is {w}×{h} (width × height, shape [{shown}]) but the preprocessing asks for {sw}×{sh}"
                ));
            }
            (Some(w), Some(h), _) => (w as u32, h as u32),
            (_, _, Some(size)) => size,
            _ => {
                return Err(format!(
                    "the model input has shape [{shown}] with a free image size; give it with {size} (e.g. {size} 224)",
                    size = crate::hint::SIZE
                ));
            }
        };
        Ok(Self {
            layout,
            channels,
            width,
            height,
        })
    }
}

/// An input size: `224` or `[width, height]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Size {
    Square(u32),
    WidthHeight([u32; 2]),
}

impl Size {
    pub fn width_height(self) -> (u32, u32) {
        match self {
            Self::Square(s) => (s, s),
            Self::WidthHeight([w, h]) => (w, h),
        }
    }
}

impl std::str::FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| format!("{s:?}: a size is N or WIDTHxHEIGHT"))
        };
        match s.split_once(['x', '×']) {
            Some((w, h)) => Ok(Self::WidthHeight([num(w)?, num(h)?])),
            None => Ok(Self::Square(num(s)?)),
        }
    }
}

/// What a TOML file or the command line says; unset fields come from the preset.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PreprocessSpec {
    pub preset: Option<Preset>,
    pub size: Option<Size>,
    pub resize: Option<ResizeMode>,
    pub crop_fraction: Option<f32>,
    pub channels: Option<ChannelOrder>,
    pub range: Option<ValueRange>,
    pub mean: Option<[f32; 3]>,
    pub std: Option<[f32; 3]>,
    pub layout: Option<TensorLayout>,
}

impl PreprocessSpec {
    /// Read a TOML file such as
    /// ```toml
    /// preset = "imagenet"
    /// size = 224            # or [width, height]
    /// resize = "center-crop" # or "stretch"
    /// crop-fraction = 0.875
    /// channels = "rgb"      # or "bgr"
    /// range = "0-1"         # or "0-255"
    /// mean = [0.485, 0.456, 0.406]
    /// std = [0.229, 0.224, 0.225]
    /// layout = "nchw"       # or "nhwc"; default from the model
    /// ```
    pub fn from_toml_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
        toml::from_str(&text).map_err(|e| e.to_string())
    }

    /// `self` with the fields `over` sets replaced (command line over file).
    pub fn overridden_by(self, over: &Self) -> Self {
        Self {
            preset: over.preset.or(self.preset),
            size: over.size.or(self.size),
            resize: over.resize.or(self.resize),
            crop_fraction: over.crop_fraction.or(self.crop_fraction),
            channels: over.channels.or(self.channels),
            range: over.range.or(self.range),
            mean: over.mean.or(self.mean),
            std: over.std.or(self.std),
            layout: over.layout.or(self.layout),
        }
    }

    /// The preprocessing this spec describes (ImageNet's when it names no preset).
    pub fn resolve(&self) -> Result<Preprocess, String> {
        Preprocess::preset(self.preset.unwrap_or(Preset::Imagenet)).with(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb, RgbImage};

    fn geometry(layout: TensorLayout, channels: usize, w: u32, h: u32) -> InputGeometry {
        InputGeometry {
            layout,
            channels,
            width: w,
            height: h,
        }
    }

    /// 2×1 image: left pixel (10, 20, 30), right pixel (40, 50, 60).
    fn two_pixels() -> DynamicImage {
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(0, 0, Rgb([10, 20, 30]));
        img.put_pixel(1, 0, Rgb([40, 50, 60]));
        DynamicImage::ImageRgb8(img)
    }

    fn tensor(pre: &Preprocess, img: &DynamicImage, g: &InputGeometry) -> Vec<f32> {
        let mut out = vec![f32::NAN; g.item_len()];
        pre.fill(img, g, &mut out);
        out
    }

    #[test]
    fn raw255_nchw_is_the_bytes_plane_by_plane() {
        let pre = Preprocess::preset(Preset::Raw255);
        let g = geometry(TensorLayout::Nchw, 3, 2, 1);
        assert_eq!(
            tensor(&pre, &two_pixels(), &g),
            vec![10.0, 40.0, 20.0, 50.0, 30.0, 60.0]
        );
    }

    #[test]
    fn nhwc_interleaves_and_bgr_reverses_channels() {
        let mut pre = Preprocess::preset(Preset::Raw255);
        let g = geometry(TensorLayout::Nhwc, 3, 2, 1);
        assert_eq!(
            tensor(&pre, &two_pixels(), &g),
            vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
        );
        pre.channels = ChannelOrder::Bgr;
        assert_eq!(
            tensor(&pre, &two_pixels(), &g),
            vec![30.0, 20.0, 10.0, 60.0, 50.0, 40.0]
        );
    }

    #[test]
    fn unit_range_then_mean_and_std_per_model_channel() {
        let spec = PreprocessSpec {
            preset: Some(Preset::Raw255),
            range: Some(ValueRange::Unit),
            mean: Some([0.5, 0.25, 0.0]),
            std: Some([0.5, 0.25, 2.0]),
            channels: Some(ChannelOrder::Bgr),
            ..Default::default()
        };
        let pre = spec.resolve().expect("valid");
        let g = geometry(TensorLayout::Nchw, 3, 2, 1);
        let got = tensor(&pre, &two_pixels(), &g);
        // Model channel 0 is blue (30, 60), normalised with mean[0], std[0].
        let want = [
            (30.0 / 255.0 - 0.5) / 0.5,
            (60.0 / 255.0 - 0.5) / 0.5,
            (20.0 / 255.0 - 0.25) / 0.25,
            (50.0 / 255.0 - 0.25) / 0.25,
            (10.0 / 255.0) / 2.0,
            (40.0 / 255.0) / 2.0,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn grey_images_fill_three_channels_and_grey_models_get_one() {
        let img = DynamicImage::ImageLuma8(GrayImage::from_pixel(2, 2, Luma([7])));
        let pre = Preprocess::preset(Preset::Raw255);
        let rgb = tensor(&pre, &img, &geometry(TensorLayout::Nchw, 3, 2, 2));
        assert_eq!(rgb, vec![7.0; 12]);
        let colour = two_pixels();
        let grey = tensor(&pre, &colour, &geometry(TensorLayout::Nchw, 1, 2, 1));
        assert_eq!(grey.len(), 2);
        assert!(grey[0] > 10.0 && grey[0] < 30.0 && grey[1] > 40.0 && grey[1] < 60.0);
    }

    /// A 6×2 image whose columns are 0, 1, …, 5 (grey): centre-cropping to 2×2 at fraction 1
    /// keeps columns 2 and 3; stretching to 3×1 averages neighbouring columns.
    #[test]
    fn centre_crop_keeps_the_middle_and_stretch_keeps_everything() {
        let img = DynamicImage::ImageLuma8(GrayImage::from_fn(6, 2, |x, _| Luma([x as u8 * 10])));
        let mut pre = Preprocess::preset(Preset::Raw255);
        pre.resize = ResizeMode::CenterCrop;
        let crop = tensor(&pre, &img, &geometry(TensorLayout::Nchw, 1, 2, 2));
        assert_eq!(crop, vec![20.0, 30.0, 20.0, 30.0]);
        pre.resize = ResizeMode::Stretch;
        let all = tensor(&pre, &img, &geometry(TensorLayout::Nchw, 1, 3, 1));
        assert!(all[0] < 15.0 && all[2] > 35.0, "{all:?}");
        // Fraction 0.5: the 6×2 image is scaled ×2 (shorter side 2 → 4) before the 2×2 cut, so
        // the cut sees the two middle columns of 12, values between 20 and 30.
        pre.resize = ResizeMode::CenterCrop;
        pre.crop_fraction = 0.5;
        let tight = tensor(&pre, &img, &geometry(TensorLayout::Nchw, 1, 2, 2));
        assert!(tight.iter().all(|v| (20.0..=30.0).contains(v)), "{tight:?}");
    }

    #[test]
    fn geometry_comes_from_the_model_shape() {
        let pre = Preprocess::preset(Preset::Imagenet);
        let g = InputGeometry::resolve(&[-1, 3, 224, 224], &pre).expect("nchw");
        assert_eq!(g, geometry(TensorLayout::Nchw, 3, 224, 224));
        let g = InputGeometry::resolve(&[1, 24, 40, 3], &pre).expect("nhwc");
        assert_eq!(g, geometry(TensorLayout::Nhwc, 3, 40, 24));
        assert_eq!(g.shape(5), [5, 24, 40, 3]);
        let err = InputGeometry::resolve(&[-1, 3, -1, -1], &pre).expect_err("free size");
        assert!(err.contains("--size"), "{err}");
        let sized = pre.clone().with(&PreprocessSpec {
            size: Some(Size::WidthHeight([64, 32])),
            ..Default::default()
        });
        let g = InputGeometry::resolve(&[-1, 3, -1, -1], &sized.expect("valid")).expect("sized");
        assert_eq!((g.width, g.height), (64, 32));
        let wrong = pre.with(&PreprocessSpec {
            size: Some(Size::Square(100)),
            ..Default::default()
        });
        let err =
            InputGeometry::resolve(&[1, 3, 224, 224], &wrong.expect("valid")).expect_err("clash");
        assert!(err.contains("224×224") && err.contains("100×100"), "{err}");
        let err = InputGeometry::resolve(&[1, 2048], &Preprocess::preset(Preset::Raw255))
            .expect_err("not an image model");
        assert!(err.contains("4-D"), "{err}");
    }

    #[test]
    fn toml_spec_overrides_the_preset_and_rejects_typos() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pre.toml");
        std::fs::write(
            &path,
            "preset = \"raw255\"\nsize = [40, 24]\nchannels = \"bgr\"\nrange = \"0-1\"\nlayout = \"nhwc\"\n",
        )
        .expect("write");
        let spec = PreprocessSpec::from_toml_file(&path).expect("parses");
        let pre = spec.resolve().expect("valid");
        assert_eq!(pre.size, Some((40, 24)));
        assert_eq!(pre.channels, ChannelOrder::Bgr);
        assert_eq!(pre.range, ValueRange::Unit);
        assert_eq!(pre.resize, ResizeMode::Stretch, "from the preset");
        assert_eq!(pre.layout, Some(TensorLayout::Nhwc));
        let cli = PreprocessSpec {
            channels: Some(ChannelOrder::Rgb),
            ..Default::default()
        };
        assert_eq!(
            spec.overridden_by(&cli).resolve().expect("valid").channels,
            ChannelOrder::Rgb
        );
        std::fs::write(&path, "chanels = \"bgr\"\n").expect("write");
        let err = PreprocessSpec::from_toml_file(&path).expect_err("typo");
        assert!(err.contains("chanels"), "{err}");
        let bad_std = PreprocessSpec {
            std: Some([1.0, 0.0, 1.0]),
            ..Default::default()
        };
        assert!(
            bad_std
                .resolve()
                .expect_err("zero std")
                .contains("non-zero")
        );
        assert_eq!("224".parse::<Size>(), Ok(Size::Square(224)));
        assert_eq!("64x32".parse::<Size>(), Ok(Size::WidthHeight([64, 32])));
        assert!("big".parse::<Size>().is_err());
    }
}
