//! The demo app's routes.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

/// Registered users: username → password.
#[derive(Default)]
pub struct Users(RwLock<HashMap<String, String>>);

impl Users {
    /// Adds a user; false if the name is taken.
    pub fn create(&self, username: &str, password: &str) -> bool {
        let mut users = self.0.write().unwrap_or_else(|e| e.into_inner());
        if users.contains_key(username) {
            return false;
        }
        users.insert(username.to_owned(), password.to_owned());
        true
    }

    pub fn check(&self, username: &str, password: &str) -> bool {
        let users = self.0.read().unwrap_or_else(|e| e.into_inner());
        users.get(username).is_some_and(|p| p == password)
    }

    pub fn names(&self) -> Vec<String> {
        let users = self.0.read().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<String> = users.keys().cloned().collect();
        names.sort();
        names
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Full<Bytes>> {
    reply(status, "application/json", value.to_string())
}

/// `{"username": ..., "password": ...}` from a request body.
fn credentials(body: &[u8]) -> Option<(String, String)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some((
        value.get("username")?.as_str()?.to_owned(),
        value.get("password")?.as_str()?.to_owned(),
    ))
}

pub async fn handle(users: &Users, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    match (&method, path.as_str()) {
        (&Method::GET, "/") => reply(StatusCode::OK, "text/plain", "mite-rs demo app\n"),
        (&Method::GET, "/users") => json(StatusCode::OK, serde_json::json!(users.names())),
        (&Method::GET, p) if p.starts_with("/delay/") => {
            match p["/delay/".len()..].parse::<u64>() {
                Ok(ms) if ms <= 60_000 => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    reply(StatusCode::OK, "text/plain", format!("delayed {ms} ms\n"))
                }
                _ => reply(
                    StatusCode::BAD_REQUEST,
                    "text/plain",
                    "delay must be 0..=60000 ms\n",
                ),
            }
        }
        (&Method::POST, "/users/create" | "/login") => {
            let body = match request.into_body().collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => return reply(StatusCode::BAD_REQUEST, "text/plain", "unreadable body\n"),
            };
            let Some((username, password)) = credentials(&body) else {
                return json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": "expected JSON with string username and password"}),
                );
            };
            if path == "/login" {
                if users.check(&username, &password) {
                    json(StatusCode::OK, serde_json::json!({"username": username}))
                } else {
                    json(
                        StatusCode::UNAUTHORIZED,
                        serde_json::json!({"error": "unknown user or wrong password"}),
                    )
                }
            } else if users.create(&username, &password) {
                json(
                    StatusCode::CREATED,
                    serde_json::json!({"username": username}),
                )
            } else {
                json(
                    StatusCode::CONFLICT,
                    serde_json::json!({"error": "username taken"}),
                )
            }
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_created_once_and_checked_by_password() {
        let users = Users::default();
        assert!(users.create("alice", "pw"));
        assert!(!users.create("alice", "other"));
        assert!(users.check("alice", "pw"));
        assert!(!users.check("alice", "nope"));
        assert!(!users.check("bob", "pw"));
        assert_eq!(users.names(), ["alice"]);
    }

    #[test]
    fn credentials_need_string_username_and_password() {
        assert_eq!(
            credentials(br#"{"username": "u", "password": "p"}"#),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(credentials(br#"{"username": "u"}"#), None);
        assert_eq!(credentials(b"not json"), None);
    }
}
