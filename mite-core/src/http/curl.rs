//! `response.request.to_curl()`: a request as a shell-quoted curl command line, to replay a
//! failing request by hand.

/// What a curl command line needs to repeat a request.
pub struct CurlRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub auth: Option<(&'a str, &'a str)>,
    pub body: Option<&'a [u8]>,
    /// `(key file, certificate file)`.
    pub cert: Option<(&'a str, &'a str)>,
}

/// Single quotes for a POSIX shell: `it's` becomes `'it'"'"'s'`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

impl CurlRequest<'_> {
    pub fn command(&self) -> String {
        let mut parts = vec!["curl".to_owned(), "-X".into(), self.method.to_owned()];
        for (name, value) in self.headers {
            parts.push("-H".into());
            parts.push(shell_quote(&format!("{name}: {value}")));
        }
        if let Some((user, password)) = self.auth {
            parts.push("--user".into());
            parts.push(shell_quote(&format!("{user}:{password}")));
        }
        if let Some(body) = self.body {
            parts.push("--data-binary".into());
            parts.push(shell_quote(&String::from_utf8_lossy(body)));
        }
        if let Some((key, cert)) = self.cert {
            parts.extend([
                "--key".into(),
                shell_quote(key),
                "--cert".into(),
                shell_quote(cert),
            ]);
        }
        parts.push(shell_quote(self.url));
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(headers: &'a [(String, String)]) -> CurlRequest<'a> {
        CurlRequest {
            method: "GET",
            url: "http://127.0.0.1:8000/a?b=c",
            headers,
            auth: None,
            body: None,
            cert: None,
        }
    }

    #[test]
    fn a_plain_get_is_method_headers_and_url() {
        let headers = [("Accept".to_owned(), "*/*".to_owned())];
        assert_eq!(
            request(&headers).command(),
            "curl -X GET -H 'Accept: */*' 'http://127.0.0.1:8000/a?b=c'"
        );
    }

    #[test]
    fn auth_body_and_cert_come_before_the_url_in_curls_options() {
        let mut r = request(&[]);
        r.method = "POST";
        r.auth = Some(("user", "pa'ss"));
        r.body = Some(b"{\"a\": 1}");
        r.cert = Some(("key.pem", "cert.pem"));
        assert_eq!(
            r.command(),
            "curl -X POST --user 'user:pa'\"'\"'ss' --data-binary '{\"a\": 1}' \
             --key 'key.pem' --cert 'cert.pem' 'http://127.0.0.1:8000/a?b=c'"
        );
    }

    #[test]
    fn quoting_survives_a_shell() {
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(shell_quote(""), "''");
    }
}
