//! An S3-compatible server on loopback for the tests: `moto` in server mode from the project's
//! Python environment (scripts/python-env.sh installs it), on a free port, stopped when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts the server and waits until it answers.
    pub async fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(crate::python())
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto server starts");
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{endpoint}/moto-api/")).await.is_err() {
            assert!(Instant::now() < deadline, "moto did not answer on {endpoint}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Moto { child, endpoint }
    }

    /// Creates a bucket (S3 CreateBucket: `PUT /bucket`).
    pub async fn bucket(&self, name: &str) {
        let r = reqwest::Client::new().put(format!("{}/{name}", self.endpoint)).send().await.unwrap();
        assert!(r.status().is_success(), "create bucket {name}: {}", r.status());
    }

    /// An object's bytes, read through the platform's own object-store client.
    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let mut config = lake::LakeConfig::new(format!("s3://{bucket}"));
        for (k, v) in self.env() {
            config.storage_options.insert(k.to_string(), v);
        }
        lake::get_file(&config, key).await.unwrap_or_else(|e| panic!("get {bucket}/{key}: {e}"))
    }

    /// The AWS environment a `bb` process needs to use this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
