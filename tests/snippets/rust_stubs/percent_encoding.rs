//! Signature stub of percent-encoding 2's decoder (see axum.rs for what this check can miss).
#![allow(dead_code, unused_variables)]

pub struct PercentDecode<'a>(&'a str);
pub fn percent_decode_str(input: &str) -> PercentDecode<'_> {
    PercentDecode(input)
}
impl<'a> PercentDecode<'a> {
    pub fn decode_utf8_lossy(self) -> std::borrow::Cow<'a, str> {
        std::borrow::Cow::Borrowed(self.0)
    }
}
