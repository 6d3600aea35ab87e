//! S3 adapters of `BlobStore`. `S3BlobStore`: multipart upload (export-worker) and presigned
//! GET. `S3Presigner`: the presigned GET alone, signed with SigV4 in the query string
//! (`aws-sigv4`, which every SDK client links anyway) — users-api hands out download links and
//! never uploads, so it does not link the S3 client. Both presign with the same code. With an
//! endpoint override (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, e.g. moto) objects are
//! addressed path-style, or bucket hostnames would not resolve (DESIGN §7).

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use shared::error::{AppError, AppResult};
use shared::users::BlobStore;

/// S3's longest presigned URL lifetime (SigV4: seven days).
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// The endpoint override the SDK would use for S3, if any.
fn endpoint_override(sdk: &aws_config::SdkConfig) -> Option<String> {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .or_else(|| sdk.endpoint_url().map(str::to_owned))
}

/// Presigned GETs of one bucket's objects (SigV4, query-string signature, unsigned payload:
/// what the SDK's `get_object().presigned(…)` produces, pinned by a test against it).
#[derive(Clone)]
pub struct S3Presigner {
    credentials: Option<SharedCredentialsProvider>,
    region: Option<String>,
    /// Path-style base URL (an endpoint override); `None`: AWS's own S3 hostnames.
    endpoint: Option<String>,
    bucket: String,
}

impl std::fmt::Debug for S3Presigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Presigner")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

impl S3Presigner {
    pub fn new(
        credentials: Option<SharedCredentialsProvider>,
        region: Option<String>,
        endpoint: Option<String>,
        bucket: impl Into<String>,
    ) -> Self {
        Self {
            credentials,
            region,
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_owned()),
            bucket: bucket.into(),
        }
    }

    /// From the shared SDK config: its credentials and region, the S3 endpoint override.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self::new(
            sdk.credentials_provider(),
            sdk.region().map(|r| r.as_ref().to_owned()),
            endpoint_override(sdk),
            bucket,
        )
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object's URL before signing: path-style on an override; on AWS the bucket's own
    /// host when its name is one DNS label (no dots: a dotted name breaks the TLS wildcard),
    /// else path-style on the regional endpoint.
    fn object_url(&self, region: &str, key: &str) -> String {
        let key = encode_key(key);
        if let Some(base) = &self.endpoint {
            return format!("{base}/{}/{key}", self.bucket);
        }
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        if self.bucket.contains('.') {
            format!("https://s3.{region}.{suffix}/{}/{key}", self.bucket)
        } else {
            format!("https://{}.s3.{region}.{suffix}/{key}", self.bucket)
        }
    }

    /// A GET of `key` valid for `expires` from `now`.
    pub async fn presign_get_at(
        &self,
        key: &str,
        expires: Duration,
        now: SystemTime,
    ) -> AppResult<String> {
        if expires.is_zero() || expires > MAX_PRESIGN {
            return Err(AppError::internal_msg(
                "s3 presign: the lifetime must be between 1 second and 7 days",
            ));
        }
        let region = self
            .region
            .as_deref()
            .ok_or_else(|| AppError::internal_msg("s3 presign: no AWS region configured"))?;
        let credentials = self
            .credentials
            .as_ref()
            .ok_or_else(|| AppError::internal_msg("s3 presign: no AWS credentials configured"))?
            .provide_credentials()
            .await
            .map_err(|e| AppError::internal("s3 presign credentials", e))?;
        let identity: Identity = credentials.into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| AppError::internal("s3 presign params", e))?
            .into();
        // `x-id` names the operation, as the SDK's presigned URLs do.
        let url = format!("{}?x-id=GetObject", self.object_url(region, key));
        let signable = SignableRequest::new(
            "GET",
            &url,
            std::iter::empty(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| AppError::internal("s3 presign request", e))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| AppError::internal("s3 presign", e))?
            .into_parts();
        let mut req = http::Request::builder()
            .method("GET")
            .uri(&url)
            .body(())
            .map_err(|e| AppError::internal("s3 presign url", e))?;
        instructions.apply_to_request_http1x(&mut req);
        Ok(req.uri().to_string())
    }
}

/// An object key in a URL path: every byte but S3's unreserved ones and `/` percent-encoded.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const PRESIGN_ONLY: &str =
    "this function is wired for export downloads only (S3 presigning); uploads run in export-worker";

#[async_trait]
impl BlobStore for S3Presigner {
    async fn start_upload(&self, _: &str, _: &str) -> AppResult<String> {
        Err(AppError::internal_msg(PRESIGN_ONLY))
    }
    async fn upload_part(&self, _: &str, _: &str, _: i32, _: Vec<u8>) -> AppResult<String> {
        Err(AppError::internal_msg(PRESIGN_ONLY))
    }
    async fn complete_upload(&self, _: &str, _: &str, _: &[(i32, String)]) -> AppResult<()> {
        Err(AppError::internal_msg(PRESIGN_ONLY))
    }
    async fn abort_upload(&self, _: &str, _: &str) -> AppResult<()> {
        Err(AppError::internal_msg(PRESIGN_ONLY))
    }
    async fn presign_get(&self, key: &str, expires: Duration) -> AppResult<String> {
        self.presign_get_at(key, expires, SystemTime::now()).await
    }
    async fn read_all(&self, _: &str) -> AppResult<Vec<u8>> {
        Err(AppError::internal_msg(PRESIGN_ONLY))
    }
}

#[derive(Clone)]
pub struct S3BlobStore {
    client: Client,
    presigner: S3Presigner,
}

impl S3BlobStore {
    /// `presigner` names the bucket; `client` must reach the same endpoint.
    pub fn new(client: Client, presigner: S3Presigner) -> Self {
        Self { client, presigner }
    }

    /// From the shared SDK config; path-style when an endpoint override is set.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        let presigner = S3Presigner::from_sdk(sdk, bucket);
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(presigner.endpoint.is_some())
            .build();
        Self::new(Client::from_conf(conf), presigner)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        self.presigner.bucket()
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn start_upload(&self, key: &str, content_type: &str) -> AppResult<String> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(self.bucket())
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("s3 CreateMultipartUpload", e))?;
        out.upload_id
            .ok_or_else(|| AppError::internal_msg("s3 CreateMultipartUpload returned no upload id"))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        body: Vec<u8>,
    ) -> AppResult<String> {
        let out = self
            .client
            .upload_part()
            .bucket(self.bucket())
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| crate::errors::sdk("s3 UploadPart", e))?;
        Ok(out.e_tag.unwrap_or_default())
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> AppResult<()> {
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(etag).build())
                    .collect(),
            ))
            .build();
        let res = self
            .client
            .complete_multipart_upload()
            .bucket(self.bucket())
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(completed)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // A 200 whose body the SDK cannot read (moto 5.2 names the XML root
            // `…Response` instead of `…Result`): the upload completed if the object exists.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 200) => {
                self.client
                    .head_object()
                    .bucket(self.bucket())
                    .key(key)
                    .send()
                    .await
                    .map_err(|_| crate::errors::sdk("s3 CompleteMultipartUpload", e))?;
                Ok(())
            }
            Err(e) => Err(crate::errors::sdk("s3 CompleteMultipartUpload", e)),
        }
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> AppResult<()> {
        self.client
            .abort_multipart_upload()
            .bucket(self.bucket())
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("s3 AbortMultipartUpload", e))?;
        Ok(())
    }

    async fn presign_get(&self, key: &str, expires: Duration) -> AppResult<String> {
        self.presigner.presign_get(key, expires).await
    }

    async fn read_all(&self, key: &str) -> AppResult<Vec<u8>> {
        let out = self
            .client
            .get_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("s3 GetObject", e))?;
        let data = out
            .body
            .collect()
            .await
            .map_err(|e| AppError::internal("s3 read body", e))?;
        Ok(data.into_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_s3::presigning::PresigningConfig;
    use std::collections::BTreeMap;

    const AT: u64 = 1_796_300_000; // 2026-12-03

    fn credentials() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "secret/key+example",
            Some("session-token/=+".into()),
            None,
            "test",
        )
    }

    /// The SDK's own presigned GetObject URL for the same inputs.
    async fn sdk_url(region: &str, endpoint: Option<&str>, bucket: &str, key: &str) -> String {
        let mut conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(credentials())
            .http_client(crate::wiring::http_client());
        if let Some(e) = endpoint {
            conf = conf.endpoint_url(e).force_path_style(true);
        }
        let presign = PresigningConfig::builder()
            .start_time(SystemTime::UNIX_EPOCH + Duration::from_secs(AT))
            .expires_in(Duration::from_secs(900))
            .build()
            .unwrap();
        Client::from_conf(conf.build())
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(presign)
            .await
            .unwrap()
            .uri()
            .to_owned()
    }

    async fn our_url(region: &str, endpoint: Option<&str>, bucket: &str, key: &str) -> String {
        S3Presigner::new(
            Some(SharedCredentialsProvider::new(credentials())),
            Some(region.to_owned()),
            endpoint.map(str::to_owned),
            bucket,
        )
        .presign_get_at(
            key,
            Duration::from_secs(900),
            SystemTime::UNIX_EPOCH + Duration::from_secs(AT),
        )
        .await
        .unwrap()
    }

    /// Scheme, host and path, and the query as a map (the order of parameters is free).
    fn parts(url: &str) -> (String, BTreeMap<String, String>) {
        let (base, query) = url.split_once('?').unwrap();
        let params = query
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        (base.to_owned(), params)
    }

    #[tokio::test]
    async fn presigned_urls_match_the_sdk_presigner() {
        let cases = [
            (
                "eu-west-1",
                None,
                "booking-sync-exports",
                "exports/ws_1/exp_1.csv",
            ),
            (
                "us-east-1",
                None,
                "exports.example.com",
                "exports/ws_1/exp_1.csv",
            ),
            (
                "eu-west-1",
                None,
                "booking-sync-exports",
                "exports/ws 1/é+ü&=?.csv",
            ),
            (
                "us-east-1",
                Some("http://127.0.0.1:4566"),
                "bkt-1",
                "exports/ws/a b.csv",
            ),
        ];
        for (region, endpoint, bucket, key) in cases {
            let ours = our_url(region, endpoint, bucket, key).await;
            let sdk = sdk_url(region, endpoint, bucket, key).await;
            let (ours_base, ours_q) = parts(&ours);
            let (sdk_base, sdk_q) = parts(&sdk);
            assert_eq!(ours_base, sdk_base, "{region} {endpoint:?} {bucket} {key}");
            assert!(ours_q.contains_key("X-Amz-Signature"), "{ours}");
            assert!(ours_q.contains_key("X-Amz-Security-Token"), "{ours}");
            assert_eq!(ours_q, sdk_q, "{region} {endpoint:?} {bucket} {key}");
        }
    }

    #[tokio::test]
    async fn a_presign_without_region_credentials_or_a_valid_lifetime_is_an_error() {
        let p = S3Presigner::new(None, Some("eu-west-1".into()), None, "b");
        assert!(p.presign_get("k", Duration::from_secs(60)).await.is_err());
        let p = S3Presigner::new(
            Some(SharedCredentialsProvider::new(credentials())),
            None,
            None,
            "b",
        );
        assert!(p.presign_get("k", Duration::from_secs(60)).await.is_err());
        let p = S3Presigner::new(
            Some(SharedCredentialsProvider::new(credentials())),
            Some("eu-west-1".into()),
            None,
            "b",
        );
        assert!(p.presign_get("k", Duration::ZERO).await.is_err());
        assert!(p
            .presign_get("k", MAX_PRESIGN + Duration::from_secs(1))
            .await
            .is_err());
        assert!(p.presign_get("k", MAX_PRESIGN).await.is_ok());
        // Everything but the link is refused with an error naming the wiring.
        assert!(p.start_upload("k", "text/csv").await.is_err());
        assert!(p.read_all("k").await.is_err());
    }
}
