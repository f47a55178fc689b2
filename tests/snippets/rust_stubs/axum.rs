//! Signature stubs of the parts of axum 0.7 (and of http 1.x, which it re-exports) that the generated
//! snippet uses, so rustc can type- and borrow-check it offline. Bodies are placeholders; signatures
//! follow the real crates' (docs.rs): a mismatch there is what this check can miss.
#![allow(dead_code, unused_variables, clippy::all)]

pub mod http {
    pub mod header {
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub struct HeaderName(&'static str);
        pub const CACHE_CONTROL: HeaderName = HeaderName("cache-control");
        pub const VARY: HeaderName = HeaderName("vary");
        pub const ORIGIN: HeaderName = HeaderName("origin");
        pub const ACCESS_CONTROL_ALLOW_ORIGIN: HeaderName = HeaderName("access-control-allow-origin");

        #[derive(Clone, PartialEq, Eq, Debug)]
        pub struct HeaderValue(String);
        #[derive(Debug)]
        pub struct InvalidHeaderValue;
        #[derive(Debug)]
        pub struct ToStrError;
        impl HeaderValue {
            pub const fn from_static(src: &'static str) -> HeaderValue {
                HeaderValue(String::new())
            }
            pub fn from_str(src: &str) -> Result<HeaderValue, InvalidHeaderValue> {
                Ok(HeaderValue(src.to_owned()))
            }
            pub fn to_str(&self) -> Result<&str, ToStrError> {
                Ok(&self.0)
            }
        }

        pub struct GetAll<'a, T>(&'a [T]);
        impl<'a, T> GetAll<'a, T> {
            pub fn iter(&self) -> std::slice::Iter<'a, T> {
                self.0.iter()
            }
        }

        pub struct HeaderMap<T = HeaderValue>(Vec<(HeaderName, T)>);
        impl<T> Default for HeaderMap<T> {
            fn default() -> Self {
                HeaderMap(Vec::new())
            }
        }
        impl<T> HeaderMap<T> {
            pub fn get(&self, key: HeaderName) -> Option<&T> {
                None
            }
            pub fn get_all(&self, key: HeaderName) -> GetAll<'_, T> {
                GetAll(&[])
            }
            pub fn insert(&mut self, key: HeaderName, val: T) -> Option<T> {
                None
            }
            pub fn append(&mut self, key: HeaderName, value: T) -> bool {
                true
            }
        }
    }
    pub use header::{HeaderMap, HeaderName, HeaderValue};

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub struct StatusCode(u16);
    impl StatusCode {
        pub const NOT_FOUND: StatusCode = StatusCode(404);
        pub const NOT_MODIFIED: StatusCode = StatusCode(304);
        pub fn is_success(&self) -> bool {
            (200..300).contains(&self.0)
        }
    }

    pub struct Uri;
    impl Uri {
        pub fn path(&self) -> &str {
            "/"
        }
    }
}

pub mod body {
    pub struct Body;
}

pub mod extract {
    pub struct Request<B = crate::body::Body>(B, crate::http::Uri, crate::http::HeaderMap);
    impl<B> Request<B> {
        pub fn uri(&self) -> &crate::http::Uri {
            &self.1
        }
        pub fn headers(&self) -> &crate::http::HeaderMap {
            &self.2
        }
    }
}

pub mod response {
    pub struct Response(crate::http::StatusCode, crate::http::HeaderMap);
    impl Response {
        pub fn status(&self) -> crate::http::StatusCode {
            self.0
        }
        pub fn headers_mut(&mut self) -> &mut crate::http::HeaderMap {
            &mut self.1
        }
    }
    pub trait IntoResponse {
        fn into_response(self) -> Response;
    }
    impl IntoResponse for crate::http::StatusCode {
        fn into_response(self) -> Response {
            Response(self, Default::default())
        }
    }
}

pub mod middleware {
    use std::future::Future;

    pub struct Next;
    impl Next {
        pub async fn run(self, req: crate::extract::Request) -> crate::response::Response {
            crate::response::IntoResponse::into_response(crate::http::StatusCode::NOT_FOUND)
        }
    }

    pub struct FromFnLayer<F>(F);
    pub fn from_fn<F, Fut>(f: F) -> FromFnLayer<F>
    where
        F: Fn(crate::extract::Request, Next) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = crate::response::Response> + Send + 'static,
    {
        FromFnLayer(f)
    }
}

pub struct Router;
impl Router {
    pub fn new() -> Router {
        Router
    }
    pub fn nest_service<T>(self, path: &str, service: T) -> Router {
        self
    }
    pub fn fallback_service<T>(self, service: T) -> Router {
        self
    }
    pub fn layer<L>(self, layer: L) -> Router {
        self
    }
}
