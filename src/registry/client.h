// A client for one OCI distribution registry (wire-formats §11): pulls manifests with their exact
// bytes and streams blobs through digest verification; pushes blobs (skipping what is there,
// mounting what the registry already holds in another repository, uploading in one PUT or in
// resumable chunks) and manifests byte for byte. Thread-safe: the transfer scheduler runs many
// blob transfers on one client at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/stream.h"
#include "oci/digest.h"
#include "oci/manifest.h"
#include "registry/auth.h"
#include "registry/credentials.h"
#include "registry/http.h"
#include "registry/retry.h"

namespace sealift::registry {

struct RegistryOptions {
  HttpOptions http;          // TLS, --plain-http, timeouts, request log
  RetryPolicy retry;         // per request, and per blob transfer as a whole
  Credentials credentials;   // see resolve_credentials(); anonymous when empty
  uint64_t monolithic_limit = 16ull << 20;  // blobs up to this size go in one PUT
  uint64_t chunk_size = 16ull << 20;        // PATCH size for larger blobs
  size_t max_manifest_size = 16u << 20;     // the spec asks registries to accept 4 MB
  // Called as blob bytes move (from the transferring thread): digest, bytes done, total.
  std::function<void(const oci::Digest&, uint64_t done, uint64_t total)> progress;
};

// What happened to a blob push.
enum class BlobPush { Skipped, Mounted, Uploaded };

// Counters since the client was made, for progress lines and for tests.
struct RegistryStats {
  uint64_t requests = 0;         // HTTP exchanges with the registry (token requests excluded)
  uint64_t retries = 0;          // attempts repeated after a transient failure
  uint64_t blobs_skipped = 0;    // already present (HEAD)
  uint64_t blobs_mounted = 0;    // cross-repository mount
  uint64_t blobs_uploaded = 0;   // content sent
  uint64_t bytes_uploaded = 0;   // blob bytes sent, resends included
  uint64_t upload_resumes = 0;   // chunked uploads continued from the registry's offset
  uint64_t upload_restarts = 0;  // uploads started over with a new session
  uint64_t blobs_fetched = 0;
  uint64_t bytes_fetched = 0;
  uint64_t manifests_pushed = 0;
};

// Opens a blob's content at a byte offset (0 = the start). Called again for every retry, resume or
// restart, so it must give the same bytes each time (a file, an entry of the bundle archive).
using BlobOpener = std::function<std::unique_ptr<io::Source>(uint64_t offset)>;

class RegistryClient {
 public:
  // `registry` as users write it: "harbor.example.com", "127.0.0.1:5000", "docker.io".
  RegistryClient(std::string registry, RegistryOptions options);

  const std::string& registry() const { return registry_; }

  // GET /v2/: checks reachability, TLS and (for Basic registries) the credentials.
  void ping();

  // --- Pull. `reference` is a tag or a "sha256:..." digest.
  // The manifest's descriptor (media type, digest, size): HEAD, falling back to GET.
  oci::Descriptor resolve(const std::string& repository, const std::string& reference);
  // The same, or nullopt when the registry has no such manifest (404).
  std::optional<oci::Descriptor> find(const std::string& repository, const std::string& reference);
  // The manifest or index with its exact bytes, checked against the digest it was asked by (or
  // the registry's Docker-Content-Digest for a tag).
  oci::Manifest get_manifest(const std::string& repository, const std::string& reference);
  // The same, by descriptor: size and digest must match it.
  oci::Manifest get_manifest(const std::string& repository, const oci::Descriptor& descriptor);
  // Streams a blob into `sink`, verifying size and digest on the way (Error(Integrity) at the end
  // on a mismatch). An interrupted download continues with a Range request.
  void fetch_blob(const std::string& repository, const oci::Descriptor& blob, io::Sink& sink);
  // All tags (following Link pagination); empty when the repository does not exist.
  std::vector<std::string> list_tags(const std::string& repository);

  // --- Push.
  bool blob_exists(const std::string& repository, const oci::Digest& digest);
  bool manifest_exists(const std::string& repository, const oci::Digest& digest);
  // HEAD, then mount from a repository known to hold it, then upload (monolithic up to
  // monolithic_limit, else chunked with resume from the registry's offset). Pushes of one digest
  // are serialised so a second repository can mount what the first uploaded.
  BlobPush push_blob(const std::string& repository, const oci::Descriptor& blob, const BlobOpener& open);
  // PUT of the exact bytes with Content-Type = their media type; `reference` is a tag or the
  // manifest's digest. The registry's Docker-Content-Digest must match. Returns whether the
  // registry answered with an OCI-Subject header naming the manifest's subject: it indexed the
  // manifest for the referrers API (OCI distribution 1.1), so no referrers tag is needed.
  bool put_manifest(const std::string& repository, const std::string& reference, const oci::Manifest& manifest);
  // GET /v2/<repository>/referrers/<subject>: the referrers index, or nullopt when the registry
  // has no referrers API (404; the caller falls back to the referrers tag schema). The index
  // lists every manifest whose subject is `subject` (one page; registries that page are rare).
  std::optional<oci::Manifest> referrers(const std::string& repository, const oci::Digest& subject);
  // Tells the client that `repository` on this registry holds the blob: a mount source.
  void note_blob(const std::string& repository, const oci::Digest& digest);
  // Starts a blob upload in `repository` and cancels it: proves push permission before any byte
  // moves (Harbor grants none on a missing project or to a pull-only robot). Throws Error(Remote).
  void check_push_access(const std::string& repository);

  RegistryStats stats() const;

 private:
  struct Op;
  struct Counters {
    std::atomic<uint64_t> requests{0}, retries{0}, blobs_skipped{0}, blobs_mounted{0}, blobs_uploaded{0},
        bytes_uploaded{0}, upload_resumes{0}, upload_restarts{0}, blobs_fetched{0}, bytes_fetched{0},
        manifests_pushed{0};
  };

  std::string url(const std::string& path) const;
  HttpResponse attempt(const Op& op, HttpRequest& request, const std::string& scope, bool denied_throws = true);
  HttpResponse exchange(const Op& op, HttpRequest request, const std::string& scope);
  void retry_or_throw(const Op& op, int& failures, const HttpResponse& r);
  [[noreturn]] void fail(const Op& op, const HttpResponse& r) const;
  [[noreturn]] void denied(const Op& op, const HttpResponse& r) const;
  std::optional<oci::Descriptor> head_manifest(const Op& op, const std::string& repository, const std::string& reference,
                                               const std::string& scope);
  oci::Manifest fetch_manifest(const Op& op, const std::string& repository, const std::string& reference);
  BlobPush upload(const Op& op, const std::string& repository, const oci::Descriptor& blob, const BlobOpener& open,
                  std::string location);
  std::vector<std::string> mount_sources(const oci::Digest& digest, const std::string& repository);

  std::string registry_;
  std::string base_;  // "https://host"
  RegistryOptions options_;
  HttpClient http_;
  Authenticator auth_;
  Counters counters_;

  std::mutex mu_;
  std::condition_variable pushed_;
  std::set<oci::Digest> pushing_;
  std::map<oci::Digest, std::vector<std::string>> holders_;
};

// Checks a repository name and a reference before they go into a URL; throws Error(Input).
void check_repository(const std::string& repository);
void check_reference(const std::string& reference);

}  // namespace sealift::registry
