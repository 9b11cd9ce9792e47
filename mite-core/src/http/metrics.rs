//! The `http_metrics` message fields for one response, with mite's names, order and units.

use std::sync::Arc;

use super::ResponseData;
use crate::messages::{keys, Value};

/// mite's `http_metrics` fields (before `additional_metrics`): `start_time` is whole epoch
/// seconds, the times are cumulative seconds from the start of the transfer, `method` is bytes
/// and `download_size` a float, as acurl reports them.
pub fn http_metrics_fields(response: &ResponseData) -> Vec<(Arc<str>, Value)> {
    let t = &response.timings;
    vec![
        (keys::start_time(), Value::Int(response.start_time)),
        (keys::effective_url(), Value::Str(response.url.clone())),
        (
            keys::response_code(),
            Value::UInt(u64::from(response.status)),
        ),
        (keys::dns_time(), Value::Float(t.namelookup)),
        (keys::connect_time(), Value::Float(t.connect)),
        (keys::tls_time(), Value::Float(t.appconnect)),
        (keys::transfer_start_time(), Value::Float(t.pretransfer)),
        (keys::first_byte_time(), Value::Float(t.starttransfer)),
        (keys::total_time(), Value::Float(t.total)),
        (keys::primary_ip(), Value::Str(response.primary_ip.clone())),
        (
            keys::method(),
            Value::Bin(response.method.as_bytes().to_vec()),
        ),
        (
            keys::download_size(),
            Value::Float(response.download_size as f64),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::http::Timings;

    #[test]
    fn fields_have_mites_names_order_and_types() {
        let response = ResponseData {
            method: "GET".into(),
            url: "http://127.0.0.1:1/x".into(),
            status: 200,
            version: "HTTP/1.1",
            headers: http::HeaderMap::new(),
            body: Bytes::from_static(b"abc"),
            download_size: 3,
            upload_size: 0,
            redirect_url: None,
            timings: Timings {
                total: 0.5,
                ..Timings::default()
            },
            start_time: 1_795_619_959,
            finished_at: 1_795_619_959.5,
            primary_ip: "127.0.0.1".into(),
            request_headers: Default::default(),
        };
        let fields = http_metrics_fields(&response);
        let names: Vec<&str> = fields.iter().map(|(k, _)| &**k).collect();
        assert_eq!(
            names,
            [
                "start_time",
                "effective_url",
                "response_code",
                "dns_time",
                "connect_time",
                "tls_time",
                "transfer_start_time",
                "first_byte_time",
                "total_time",
                "primary_ip",
                "method",
                "download_size"
            ]
        );
        assert_eq!(fields[0].1, Value::Int(1_795_619_959));
        assert_eq!(fields[10].1, Value::Bin(b"GET".to_vec()));
        assert_eq!(fields[11].1, Value::Float(3.0));
    }
}
