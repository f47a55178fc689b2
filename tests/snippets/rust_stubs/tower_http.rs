//! Signature stub of tower-http 0.6's ServeDir builder (see axum.rs for what this check can miss).
#![allow(dead_code, unused_variables)]

pub mod services {
    pub struct ServeDir;
    impl ServeDir {
        pub fn new<P: AsRef<std::path::Path>>(path: P) -> Self {
            ServeDir
        }
        pub fn precompressed_br(self) -> Self {
            self
        }
        pub fn precompressed_gzip(self) -> Self {
            self
        }
        pub fn append_index_html_on_directories(self, append: bool) -> Self {
            self
        }
    }
}
