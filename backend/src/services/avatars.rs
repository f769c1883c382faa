//! Avatar images: what is uploaded or comes with a card is decoded (PNG, JPEG or WebP only,
//! within size limits), shrunk to at most 1024 px a side and encoded again, which drops every
//! piece of metadata (a PNG card's text chunks, a photo's location). JPEG stays JPEG; the
//! others become PNG.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits, imageops::FilterType};

pub const MAX_SIDE: u32 = 1024;
/// An image larger than this (in pixels a side, or in memory to decode) is refused rather than
/// decoded: a small file can claim a huge picture.
const MAX_DECODED_SIDE: u32 = 8192;
const MAX_DECODE_BYTES: u64 = 256 << 20;

/// An avatar ready to store.
#[derive(Debug)]
pub struct Avatar {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Why an image cannot be an avatar (`invalid_image`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ImageError(pub String);

/// `bytes` as an avatar. Runs for a while on a large image: call it off the async workers.
pub fn normalize(bytes: &[u8]) -> Result<Avatar, ImageError> {
    let (image, format) = decode(bytes)?;
    let image = if image.width() > MAX_SIDE || image.height() > MAX_SIDE {
        image.resize(MAX_SIDE, MAX_SIDE, FilterType::Lanczos3)
    } else {
        image
    };
    let (format, content_type) = match format {
        ImageFormat::Jpeg => (ImageFormat::Jpeg, "image/jpeg"),
        _ => (ImageFormat::Png, "image/png"),
    };
    let image = if format == ImageFormat::Jpeg { DynamicImage::ImageRgb8(image.to_rgb8()) } else { image };
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).map_err(|e| ImageError(format!("the image cannot be encoded: {e}")))?;
    Ok(Avatar { content_type, bytes: out.into_inner() })
}

/// A stored avatar's pixels, as RGBA (for a PNG card).
pub fn rgba(bytes: &[u8]) -> Result<(Vec<u8>, u32, u32), ImageError> {
    let (image, _) = decode(bytes)?;
    let rgba = image.to_rgba8();
    let (width, height) = rgba.dimensions();
    Ok((rgba.into_raw(), width, height))
}

/// A plain picture for a card with no avatar: 512 × 512 in a colour of the name's.
pub fn placeholder(name: &str) -> (Vec<u8>, u32, u32) {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let [r, g, b, _] = hash.to_le_bytes();
    // Soft colours: the upper half of each channel.
    let pixel = [128 | r >> 1, 128 | g >> 1, 128 | b >> 1, 255];
    let side = 512;
    (pixel.repeat((side * side) as usize), side, side)
}

fn decode(bytes: &[u8]) -> Result<(DynamicImage, ImageFormat), ImageError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError(format!("the image cannot be read: {e}")))?;
    let format = reader
        .format()
        .filter(|f| matches!(f, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP))
        .ok_or_else(|| ImageError("not a PNG, JPEG or WebP image".into()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = reader;
    reader.limits(limits);
    let image = reader.decode().map_err(|e| ImageError(format!("the image does not decode: {e}")))?;
    Ok((image, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        DynamicImage::new_rgba8(width, height).write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn large_images_shrink_and_only_images_pass() {
        let avatar = normalize(&png(2048, 1024)).unwrap();
        assert_eq!(avatar.content_type, "image/png");
        let (_, width, height) = rgba(&avatar.bytes).unwrap();
        assert_eq!((width, height), (1024, 512));
        assert!(normalize(b"GIF89a....").is_err());
        assert!(normalize(b"not an image").is_err());
        assert!(normalize(&png(2, 2)[..20]).is_err(), "a cut-off PNG");
    }

    #[test]
    fn a_small_file_claiming_a_huge_picture_is_refused() {
        let mut bomb = png(1, 1);
        // IHDR's width, rewritten to 100,000 pixels (the CRC no longer matches either).
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(normalize(&bomb).is_err());
    }
}
