//! Signatures of public storage URLs (storage-methods §5).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const BASE62: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn base62(mut n: u128) -> String {
    if n == 0 {
        return "0".into();
    }
    let mut digits = Vec::with_capacity(22);
    while n > 0 {
        digits.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// HMAC-SHA256 of `message` keyed by `secret`; the first 30 hex digits (120 bits) in base62.
pub fn hmac_signature(secret: &str, message: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC accepts keys of any length; this branch cannot be taken.
        return String::new();
    };
    mac.update(message.as_bytes());
    let digest = mac.finalize().into_bytes();
    // 30 hex digits are the first 15 bytes.
    let n = digest[..15].iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    base62(n)
}

/// The `signature` of a storage URL: base64url (padded) of
/// `"0.{expires_at}.{hmac_signature(secret, "0.{expires_at}.{resource_id}")}"`, where
/// `expires_at` is Unix milliseconds or 0 for "never".
pub fn storage_signature(resource_id: &str, secret: &str, expires_at_millis: u64) -> String {
    let sig = hmac_signature(secret, &format!("0.{expires_at_millis}.{resource_id}"));
    base64::engine::general_purpose::URL_SAFE.encode(format!("0.{expires_at_millis}.{sig}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        assert_eq!(hmac_signature("secret", "INPUT"), "axYJbfgtUqeEbWRXKnXT");
        assert_eq!(hmac_signature("secret", "0.0.SXbMqrlubLsNFPDfT"), "8d7hxWjMy4YoM3eVFMd6");
        assert_eq!(storage_signature("SXbMqrlubLsNFPDfT", "secret", 0), "MC4wLjhkN2h4V2pNeTRZb00zZVZGTWQ2");
        assert_eq!(
            storage_signature("SXbMqrlubLsNFPDfT", "secret", 1_767_225_600_000),
            "MC4xNzY3MjI1NjAwMDAwLjFGbUVQWktBMjJpb3FobTBpelpnSA=="
        );
        assert_eq!(base62(0), "0");
        assert_eq!(base62(61), "Z");
        assert_eq!(base62(62), "10");
    }
}
