#include "registry/client.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ref/reference.h"
#include "registry/remote_error.h"
#include "registry/url.h"
#include "util/error.h"

namespace sealift::registry {

// What an operation is, in the user's words, for every message about it.
struct RegistryClient::Op {
  bool push = false;
  std::string what;        // "pull docker.io/library/postgres:16", "push ai-saas/backend"
  std::string repository;
};

namespace {

std::string media_type_of(const HttpResponse& r) {
  std::string t = r.header("content-type");
  t = t.substr(0, t.find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

std::optional<uint64_t> parse_uint(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// The end of an upload's "Range: 0-<end>" header (some registries write "bytes=0-<end>").
std::optional<uint64_t> range_end(const HttpResponse& r) {
  std::string value = r.header("range");
  std::string_view s = value;
  if (s.substr(0, 6) == "bytes=") s.remove_prefix(6);
  size_t dash = s.find('-');
  if (dash == std::string_view::npos || s.substr(0, dash) != "0") return std::nullopt;
  return parse_uint(s.substr(dash + 1));
}

std::string short_digest(const oci::Digest& d) { return d.str().substr(0, 19); }

// A source that gives at most `limit` bytes of another.
class LimitedSource : public io::Source {
 public:
  LimitedSource(io::Source& inner, uint64_t limit) : inner_(inner), left_(limit) {}
  size_t read(std::span<std::byte> buf) override {
    if (left_ == 0) return 0;
    size_t n = inner_.read(buf.first(static_cast<size_t>(std::min<uint64_t>(buf.size(), left_))));
    left_ -= n;
    return n;
  }

 private:
  io::Source& inner_;
  uint64_t left_;
};

// Forwards to the verifying sink, counting what arrived and dropping the first `skip` bytes (a
// server that ignored our Range header and started from zero again).
class ResumeSink : public io::Sink {
 public:
  ResumeSink(io::Sink& inner, uint64_t& done, std::function<void(uint64_t)> progress)
      : inner_(inner), done_(done), progress_(std::move(progress)) {}
  void skip(uint64_t n) { skip_ = n; }
  void write(std::span<const std::byte> buf) override {
    if (skip_) {
      size_t drop = static_cast<size_t>(std::min<uint64_t>(skip_, buf.size()));
      skip_ -= drop;
      buf = buf.subspan(drop);
    }
    if (buf.empty()) return;
    inner_.write(buf);
    done_ += buf.size();
    if (progress_) progress_(done_);
  }

 private:
  io::Sink& inner_;
  uint64_t& done_;
  std::function<void(uint64_t)> progress_;
  uint64_t skip_ = 0;
};

std::string api_host(const std::string& registry) {
  // Docker Hub serves the API on another name than the one in image references.
  if (registry == "docker.io" || registry == "index.docker.io") return "registry-1.docker.io";
  return registry;
}

std::string pull_scope(const std::string& repository) { return repository_scope(repository, "pull"); }
std::string push_scope(const std::string& repository) { return repository_scope(repository, "pull,push"); }

}  // namespace

void check_repository(const std::string& repository) {
  if (!ref::valid_repository(repository))
    throw Error(ErrorKind::Input, fmt::format("\"{}\" is not a valid repository name", repository),
                "use lowercase letters, digits and separators (. _ __ -), components joined by /");
}

void check_reference(const std::string& reference) {
  if (oci::Digest::valid(reference) || ref::valid_tag(reference)) return;
  if (reference.rfind("sha256:", 0) == 0) oci::Digest::parse(reference);
  throw Error(ErrorKind::Input, fmt::format("\"{}\" is neither a tag nor a sha256 digest", reference));
}

RegistryClient::RegistryClient(std::string registry, RegistryOptions options)
    : registry_(std::move(registry)),
      base_((options.http.plain_http ? "http://" : "https://") + api_host(registry_)),
      options_(std::move(options)),
      http_(options_.http),
      auth_(registry_, options_.credentials, http_, options_.retry) {
  Url::parse(base_ + "/v2/");
}

std::string RegistryClient::url(const std::string& path) const { return base_ + path; }

RegistryStats RegistryClient::stats() const {
  RegistryStats s;
  s.requests = counters_.requests;
  s.retries = counters_.retries;
  s.blobs_skipped = counters_.blobs_skipped;
  s.blobs_mounted = counters_.blobs_mounted;
  s.blobs_uploaded = counters_.blobs_uploaded;
  s.bytes_uploaded = counters_.bytes_uploaded;
  s.upload_resumes = counters_.upload_resumes;
  s.upload_restarts = counters_.upload_restarts;
  s.blobs_fetched = counters_.blobs_fetched;
  s.bytes_fetched = counters_.bytes_fetched;
  s.manifests_pushed = counters_.manifests_pushed;
  return s;
}

// --- Requests --------------------------------------------------------------------------------

void RegistryClient::denied(const Op& op, const HttpResponse& r) const {
  std::string said = describe_status(r.status, r.body);
  if (op.push) {
    size_t slash = op.repository.find('/');
    std::string whose = slash == std::string::npos
                            ? fmt::format("repository \"{}\"", op.repository)
                            : fmt::format("project \"{}\"", op.repository.substr(0, slash));
    throw Error(ErrorKind::Remote,
                fmt::format("{}: {} denied: {} not found or no push permission on {}", op.what, r.status, whose, registry_),
                fmt::format("create the project or grant push access to user \"{}\" (the registry said: {})",
                            auth_.credentials().username, said));
  }
  throw Error(ErrorKind::Remote,
              fmt::format("{}: {} denied: no pull permission, or no such repository on {}", op.what, r.status, registry_),
              fmt::format("check the repository name and the credentials (the registry said: {})", said));
}

void RegistryClient::fail(const Op& op, const HttpResponse& r) const {
  if (r.failed())
    throw Error(ErrorKind::Network, fmt::format("{}: {}, while trying to {}", registry_, r.error, op.what));
  if (project_unknown(r)) {
    size_t slash = op.repository.find('/');
    throw Error(ErrorKind::Remote,
                fmt::format("{}: project \"{}\" does not exist on {}", op.what, op.repository.substr(0, slash), registry_),
                op.push ? "create it in Harbor, or let sealift-install create it with --create-project"
                        : "check the registry and the repository name");
  }
  if (r.status == 401 || r.status == 403) denied(op, r);
  std::string where = op.push ? fmt::format(" (on {})", registry_) : "";
  if (r.status == 404) {
    auto errors = parse_remote_errors(r.body);
    std::string words = errors.empty() ? "not found" : code_words(errors.front().code);
    throw Error(ErrorKind::Remote, fmt::format("{}: {}{}", op.what, words, where));
  }
  throw Error(ErrorKind::Remote, fmt::format("{}: {}{}", op.what, describe_status(r.status, r.body), where));
}

HttpResponse RegistryClient::attempt(const Op& op, HttpRequest& request, const std::string& scope, bool denied_throws) {
  // A Location may send uploads or downloads to another host (a storage backend); the
  // registry's credentials are for the registry only.
  if (!same_origin(base_, request.url)) {
    request.authorization.clear();
    ++counters_.requests;
    return http_.send(request);
  }
  request.authorization = auth_.authorization(scope);
  ++counters_.requests;
  HttpResponse r = http_.send(request);
  // Harbor's 401 for a project that does not exist challenges nothing: no login would help, so
  // the answer stands for the caller to read.
  if (r.failed() || r.status != 401 || project_unknown(r)) return r;
  auth_.on_unauthorized(r, scope, request.authorization);
  request.authorization = auth_.authorization(scope);
  ++counters_.requests;
  r = http_.send(request);
  if (r.failed() || r.status != 401 || project_unknown(r)) return r;
  // Fresh credentials and still refused: Basic means a wrong password, Bearer a token without
  // the asked-for access (Harbor grants no push on a project that does not exist).
  if (auth_.basic()) auth_.on_unauthorized(r, scope, request.authorization);
  if (denied_throws) denied(op, r);
  return r;
}

void RegistryClient::retry_or_throw(const Op& op, int& failures, const HttpResponse& r) {
  ++failures;
  if (!wait_before_retry(options_.retry, failures, r)) {
    if (failures > 1) {
      std::string last = r.failed() ? r.error : describe_status(r.status, r.body);
      throw Error(ErrorKind::Network,
                  fmt::format("{}: {} (after {} attempts), while trying to {}", registry_, last, failures, op.what),
                  r.status == 429 ? "the registry is rate limiting; try again later" : "");
    }
    fail(op, r);
  }
  ++counters_.retries;
}

HttpResponse RegistryClient::exchange(const Op& op, HttpRequest request, const std::string& scope) {
  int failures = 0;
  for (;;) {
    HttpResponse r = attempt(op, request, scope);
    bool transient = r.failed() ? r.retryable : retryable_status(r.status);
    if (!transient) {
      if (r.failed()) fail(op, r);
      return r;
    }
    retry_or_throw(op, failures, r);
  }
}

void RegistryClient::ping() {
  Op op{false, fmt::format("reach {}", registry_), ""};
  HttpRequest req;
  req.url = url("/v2/");
  HttpResponse r = exchange(op, req, "");
  if (r.status != 200) fail(op, r);
}

// --- Pull ------------------------------------------------------------------------------------

std::optional<oci::Descriptor> RegistryClient::head_manifest(const Op& op, const std::string& repository,
                                                             const std::string& reference, const std::string& scope) {
  HttpRequest req;
  req.method = "HEAD";
  req.url = url(fmt::format("/v2/{}/manifests/{}", repository, reference));
  req.headers.push_back("Accept: " + oci::media::accept_header());
  HttpResponse r = exchange(op, req, scope);
  if (content_unknown(r)) return std::nullopt;
  std::string digest = r.header("docker-content-digest");
  std::string type = media_type_of(r);
  auto size = parse_uint(r.header("content-length"));
  if (r.status != 200 || !oci::Digest::valid(digest) || !size ||
      !(oci::media::is_manifest(type) || oci::media::is_index(type))) {
    // Some registries answer HEAD poorly; GET tells the truth.
    oci::Manifest m = fetch_manifest(op, repository, reference);
    return m.descriptor();
  }
  if (oci::Digest::valid(reference) && digest != reference)
    throw Error(ErrorKind::Integrity,
                fmt::format("{}: the registry answered with digest {} for {}", op.what, digest, reference));
  oci::Descriptor d;
  d.media_type = type;
  d.digest = oci::Digest::parse(digest);
  d.size = static_cast<int64_t>(*size);
  return d;
}

oci::Descriptor RegistryClient::resolve(const std::string& repository, const std::string& reference) {
  check_repository(repository);
  check_reference(reference);
  std::string sep = oci::Digest::valid(reference) ? "@" : ":";
  Op op{false, fmt::format("pull {}/{}{}{}", registry_, repository, sep, reference), repository};
  auto d = head_manifest(op, repository, reference, pull_scope(repository));
  if (!d) throw Error(ErrorKind::Remote, fmt::format("{}: manifest unknown", op.what));
  return *d;
}

std::optional<oci::Descriptor> RegistryClient::find(const std::string& repository, const std::string& reference) {
  check_repository(repository);
  check_reference(reference);
  std::string sep = oci::Digest::valid(reference) ? "@" : ":";
  Op op{false, fmt::format("pull {}/{}{}{}", registry_, repository, sep, reference), repository};
  return head_manifest(op, repository, reference, pull_scope(repository));
}

oci::Manifest RegistryClient::fetch_manifest(const Op& op, const std::string& repository, const std::string& reference) {
  HttpRequest req;
  req.url = url(fmt::format("/v2/{}/manifests/{}", repository, reference));
  req.headers.push_back("Accept: " + oci::media::accept_header());
  req.max_body = options_.max_manifest_size;
  HttpResponse r = exchange(op, req, op.push ? push_scope(repository) : pull_scope(repository));
  if (r.status != 200) fail(op, r);
  oci::Digest got = oci::Digest::of(r.body);
  std::string expected = oci::Digest::valid(reference) ? reference : r.header("docker-content-digest");
  if (oci::Digest::valid(expected) && got.str() != expected)
    throw Error(ErrorKind::Integrity,
                fmt::format("{}: the manifest's bytes have digest {}, not {}", op.what, got.str(), expected));
  try {
    return oci::Manifest::parse(std::move(r.body), media_type_of(r));
  } catch (const Error& e) {
    throw Error(ErrorKind::Remote, fmt::format("{}: the registry sent a malformed manifest: {}", op.what, e.what()));
  }
}

oci::Manifest RegistryClient::get_manifest(const std::string& repository, const std::string& reference) {
  check_repository(repository);
  check_reference(reference);
  std::string sep = oci::Digest::valid(reference) ? "@" : ":";
  Op op{false, fmt::format("pull {}/{}{}{}", registry_, repository, sep, reference), repository};
  return fetch_manifest(op, repository, reference);
}

oci::Manifest RegistryClient::get_manifest(const std::string& repository, const oci::Descriptor& descriptor) {
  oci::Manifest m = get_manifest(repository, descriptor.digest.str());
  if (m.size() != descriptor.size)
    throw Error(ErrorKind::Integrity, fmt::format("pull {}/{}@{}: the manifest has {} bytes, its descriptor says {}",
                                                  registry_, repository, descriptor.digest.str(), m.size(), descriptor.size));
  return m;
}

void RegistryClient::fetch_blob(const std::string& repository, const oci::Descriptor& blob, io::Sink& sink) {
  check_repository(repository);
  Op op{false, fmt::format("pull {}/{} blob {}", registry_, repository, blob.digest.str()), repository};
  oci::VerifyingSink verify(sink, blob.digest, blob.size, op.what);
  uint64_t done = 0;
  int failures = 0;
  auto total = static_cast<uint64_t>(std::max<int64_t>(blob.size, 0));
  for (;;) {
    ResumeSink resume(verify, done, [&](uint64_t n) {
      if (options_.progress) options_.progress(blob.digest, n, total);
    });
    HttpRequest req;
    req.url = url(fmt::format("/v2/{}/blobs/{}", repository, blob.digest.str()));
    if (done > 0) req.headers.push_back(fmt::format("Range: bytes={}-", done));
    req.sink = &resume;
    req.expected_bytes = std::max<uint64_t>(total - std::min(done, total), 1);
    uint64_t start = done;
    req.on_headers = [&](const HttpResponse& head) {
      if (head.status == 206) {
        std::string range = head.header("content-range");
        if (range.rfind(fmt::format("bytes {}-", start), 0) != 0)
          throw Error(ErrorKind::Remote, fmt::format("{}: the registry resumed at the wrong offset ({})", op.what, range));
      } else {
        resume.skip(start);
      }
    };
    HttpResponse r = attempt(op, req, pull_scope(repository));
    counters_.bytes_fetched += r.delivered;
    // A 416 after everything arrived: the connection broke after the last byte.
    bool complete = !r.failed() && (r.status == 200 || r.status == 206 || (r.status == 416 && done == total && done > 0));
    if (complete) {
      verify.close();
      ++counters_.blobs_fetched;
      return;
    }
    bool transient = r.failed() ? r.retryable : retryable_status(r.status);
    if (!transient) fail(op, r);
    retry_or_throw(op, failures, r);
  }
}

std::vector<std::string> RegistryClient::list_tags(const std::string& repository) {
  check_repository(repository);
  Op op{false, fmt::format("list tags of {}/{}", registry_, repository), repository};
  std::vector<std::string> tags;
  std::string next = url(fmt::format("/v2/{}/tags/list?n=1000", repository));
  for (int page = 0; !next.empty(); ++page) {
    if (page == 10000) throw Error(ErrorKind::Remote, fmt::format("{}: too many pages", op.what));
    HttpRequest req;
    req.url = next;
    req.max_body = 64u << 20;
    HttpResponse r = exchange(op, req, pull_scope(repository));
    if (repository_unknown(r)) return tags;
    if (r.status != 200) fail(op, r);
    auto doc = nlohmann::json::parse(r.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
      throw Error(ErrorKind::Remote, fmt::format("{}: the registry sent a malformed tag list", op.what));
    if (doc.contains("tags") && !doc["tags"].is_null()) {
      if (!doc["tags"].is_array()) throw Error(ErrorKind::Remote, fmt::format("{}: \"tags\" is not a list", op.what));
      for (const auto& t : doc["tags"]) {
        if (!t.is_string()) throw Error(ErrorKind::Remote, fmt::format("{}: a tag is not a string", op.what));
        tags.push_back(t.get<std::string>());
      }
    }
    // Link: </v2/name/tags/list?last=x&n=1000>; rel="next"
    next.clear();
    std::string link = r.header("link");
    size_t lt = link.find('<'), gt = link.find('>');
    if (lt != std::string::npos && gt != std::string::npos && gt > lt && link.find("rel=\"next\"") != std::string::npos)
      next = resolve_location(r.url, link.substr(lt + 1, gt - lt - 1));
  }
  return tags;
}

// --- Push ------------------------------------------------------------------------------------

bool RegistryClient::blob_exists(const std::string& repository, const oci::Digest& digest) {
  check_repository(repository);
  Op op{true, fmt::format("push {}", repository), repository};
  HttpRequest req;
  req.method = "HEAD";
  req.url = url(fmt::format("/v2/{}/blobs/{}", repository, digest.str()));
  HttpResponse r = exchange(op, req, push_scope(repository));
  if (r.status == 200) return true;
  if (content_unknown(r)) return false;
  fail(op, r);
}

bool RegistryClient::manifest_exists(const std::string& repository, const oci::Digest& digest) {
  check_repository(repository);
  Op op{true, fmt::format("push {}", repository), repository};
  return head_manifest(op, repository, digest.str(), push_scope(repository)).has_value();
}

void RegistryClient::note_blob(const std::string& repository, const oci::Digest& digest) {
  std::lock_guard lock(mu_);
  auto& repos = holders_[digest];
  repos.erase(std::remove(repos.begin(), repos.end(), repository), repos.end());
  repos.push_back(repository);
}

void RegistryClient::check_push_access(const std::string& repository) {
  check_repository(repository);
  Op op{true, fmt::format("push {}", repository), repository};
  HttpRequest start;
  start.method = "POST";
  start.url = url(fmt::format("/v2/{}/blobs/uploads/", repository));
  HttpResponse r = exchange(op, start, push_scope(repository));
  if (r.status != 202 || !r.has_header("location")) fail(op, r);
  // A session left open expires on its own, so the answer to the cancel does not matter.
  HttpRequest cancel;
  cancel.method = "DELETE";
  cancel.url = resolve_location(r.url, r.header("location"));
  attempt(op, cancel, push_scope(repository), /*denied_throws=*/false);
}

std::vector<std::string> RegistryClient::mount_sources(const oci::Digest& digest, const std::string& repository) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  auto it = holders_.find(digest);
  if (it == holders_.end()) return out;
  for (auto r = it->second.rbegin(); r != it->second.rend(); ++r)
    if (*r != repository) out.push_back(*r);
  return out;
}

BlobPush RegistryClient::push_blob(const std::string& repository, const oci::Descriptor& blob, const BlobOpener& open) {
  check_repository(repository);
  Op op{true, fmt::format("push {} blob {}", repository, short_digest(blob.digest)), repository};

  // One push per digest at a time: the second repository then finds a mount source.
  {
    std::unique_lock lock(mu_);
    pushed_.wait(lock, [&] { return !pushing_.count(blob.digest); });
    pushing_.insert(blob.digest);
  }
  struct Release {
    RegistryClient* self;
    const oci::Digest& digest;
    ~Release() {
      {
        std::lock_guard lock(self->mu_);
        self->pushing_.erase(digest);
      }
      self->pushed_.notify_all();
    }
  } release{this, blob.digest};

  if (blob_exists(repository, blob.digest)) {
    ++counters_.blobs_skipped;
    note_blob(repository, blob.digest);
    return BlobPush::Skipped;
  }
  std::string location;
  for (const std::string& from : mount_sources(blob.digest, repository)) {
    HttpRequest req;
    req.method = "POST";
    req.url = url(fmt::format("/v2/{}/blobs/uploads/?mount={}&from={}", repository, blob.digest.str(), from));
    // The token must allow pulling from the source repository too.
    std::string scope = push_scope(repository) + " " + pull_scope(from);
    int failures = 0;
    HttpResponse r;
    for (;;) {
      r = attempt(op, req, scope, /*denied_throws=*/false);
      bool transient = r.failed() ? r.retryable : retryable_status(r.status);
      if (!transient) break;
      retry_or_throw(op, failures, r);
    }
    if (r.failed()) fail(op, r);
    if (r.status == 201) {
      ++counters_.blobs_mounted;
      note_blob(repository, blob.digest);
      return BlobPush::Mounted;
    }
    if (r.status == 202 && r.has_header("location")) {
      // The registry started an ordinary upload instead; use it.
      location = resolve_location(r.url, r.header("location"));
      break;
    }
  }
  BlobPush result = upload(op, repository, blob, open, location);
  note_blob(repository, blob.digest);
  return result;
}

BlobPush RegistryClient::upload(const Op& op, const std::string& repository, const oci::Descriptor& blob,
                                const BlobOpener& open, std::string location) {
  const std::string scope = push_scope(repository);
  const auto size = static_cast<uint64_t>(blob.size);
  if (blob.size < 0) throw Error(ErrorKind::Input, fmt::format("{}: negative size in its descriptor", op.what));
  int failures = 0;
  uint64_t chunk = std::max<uint64_t>(options_.chunk_size, 1);

  auto report = [&](uint64_t done) {
    if (options_.progress) options_.progress(blob.digest, done, size);
  };
  auto start_session = [&] {
    HttpRequest req;
    req.method = "POST";
    req.url = url(fmt::format("/v2/{}/blobs/uploads/", repository));
    HttpResponse r = exchange(op, req, scope);
    if (r.status != 202 || !r.has_header("location")) fail(op, r);
    if (auto min = parse_uint(r.header("oci-chunk-min-length")); min && *min > chunk) chunk = *min;
    return resolve_location(r.url, r.header("location"));
  };
  auto finished = [&](const HttpResponse& r) {
    std::string got = r.header("docker-content-digest");
    if (!got.empty() && got != blob.digest.str())
      throw Error(ErrorKind::Integrity, fmt::format("{}: the registry stored digest {}", op.what, got));
    ++counters_.blobs_uploaded;
    report(size);
    return BlobPush::Uploaded;
  };
  auto refused = [&](const HttpResponse& r) {
    if (content_mismatch(r))
      throw Error(ErrorKind::Integrity,
                  fmt::format("{}: the registry found other content than the descriptor says ({}); the local copy is corrupt",
                              op.what, describe_status(r.status, r.body)));
    fail(op, r);
  };
  // After a failure: the blob may be complete (a lost answer), the session may live on at some
  // offset, or it is gone and the upload starts over.
  auto recover = [&](uint64_t& offset) {
    for (;;) {
      if (blob_exists(repository, blob.digest)) return true;
      if (location.empty()) return false;
      HttpRequest req;
      req.url = location;
      HttpResponse r = attempt(op, req, scope);
      if (r.failed() || retryable_status(r.status)) {
        retry_or_throw(op, failures, r);
        continue;
      }
      auto end = range_end(r);
      if (r.status == 204 && end) {
        // "0-0" is ambiguous (nothing or one byte); resuming at 0 is safe, a 416 restarts.
        offset = *end == 0 ? 0 : *end + 1;
        if (r.has_header("location")) location = resolve_location(r.url, r.header("location"));
        ++counters_.upload_resumes;
      } else {
        location.clear();
        offset = 0;
        ++counters_.upload_restarts;
      }
      return false;
    }
  };

  uint64_t offset = 0;
  std::unique_ptr<io::Source> stream;  // open at stream_pos, reused across chunks
  uint64_t stream_pos = 0;
  for (;;) {
    if (location.empty()) {
      location = start_session();
      offset = 0;
    }
    HttpResponse r;
    if (size <= options_.monolithic_limit && offset == 0) {
      HttpRequest req;
      req.method = "PUT";
      req.url = set_query_param(location, "digest", blob.digest.str());
      req.headers = {"Content-Type: application/octet-stream"};
      req.body = [&] { return open(0); };
      req.body_size = size;
      req.on_upload = [&](uint64_t sent) { report(sent); };
      r = attempt(op, req, scope);
      counters_.bytes_uploaded += r.sent;
      if (!r.failed() && r.status == 201) return finished(r);
    } else if (offset < size) {
      uint64_t n = std::min(chunk, size - offset);
      HttpRequest req;
      req.method = "PATCH";
      req.url = location;
      req.headers = {"Content-Type: application/octet-stream", fmt::format("Content-Range: {}-{}", offset, offset + n - 1)};
      bool first_open = true;
      req.body = [&]() -> std::unique_ptr<io::Source> {
        if (!first_open || !stream || stream_pos != offset) {
          stream = open(offset);
          stream_pos = offset;
        }
        first_open = false;
        return std::make_unique<LimitedSource>(*stream, n);
      };
      req.body_size = n;
      uint64_t base = offset;
      req.on_upload = [&](uint64_t sent) { report(base + sent); };
      r = attempt(op, req, scope);
      counters_.bytes_uploaded += r.sent;
      stream_pos += r.sent;
      if (!r.failed() && r.status == 202) {
        if (r.has_header("location")) location = resolve_location(r.url, r.header("location"));
        auto end = range_end(r);
        offset = end ? *end + 1 : offset + n;
        if (offset != base + n) stream.reset();
        continue;
      }
      stream.reset();
    } else {
      HttpRequest req;
      req.method = "PUT";
      req.url = set_query_param(location, "digest", blob.digest.str());
      r = attempt(op, req, scope);
      if (!r.failed() && r.status == 201) return finished(r);
    }

    // Something went wrong with this step.
    bool transient = r.failed() ? r.retryable : retryable_status(r.status);
    bool out_of_order = !r.failed() && r.status == 416;
    bool session_gone = upload_unknown(r);
    if (!transient && !out_of_order && !session_gone) refused(r);
    if (transient) {
      retry_or_throw(op, failures, r);
    } else if (++failures > options_.retry.retries) {
      fail(op, r);
    }
    // A 500 inside a session may be the session itself: docker-registry restarted after a crash
    // answers 500 to every request of an upload whose state it cannot read any more (seen in CI
    // after a kill mid-push). A new session costs this blob's bytes again; a 502/503/504 (the
    // registry or its proxy unavailable) keeps the session.
    if (transient && !r.failed() && r.status == 500 && !location.empty()) session_gone = true;
    if (session_gone) {
      location.clear();
      ++counters_.upload_restarts;
      continue;
    }
    if (recover(offset)) return finished(HttpResponse{});
    if (out_of_order && offset == 0 && !location.empty()) {
      // The registry disagrees even about the start: begin a new session.
      location.clear();
      ++counters_.upload_restarts;
    }
  }
}

bool RegistryClient::put_manifest(const std::string& repository, const std::string& reference,
                                  const oci::Manifest& manifest) {
  check_repository(repository);
  check_reference(reference);
  if (oci::Digest::valid(reference) && reference != manifest.digest().str())
    throw Error(ErrorKind::Internal,
                fmt::format("push {}: manifest {} pushed under another digest {}", repository, manifest.digest().str(), reference));
  if (manifest.media_type().empty())
    throw Error(ErrorKind::Input, fmt::format("push {}: manifest {} has no media type", repository, manifest.digest().str()));
  std::string sep = oci::Digest::valid(reference) ? "@" : ":";
  Op op{true, fmt::format("push {}{}{}", repository, sep, reference), repository};
  HttpRequest req;
  req.method = "PUT";
  req.url = url(fmt::format("/v2/{}/manifests/{}", repository, reference));
  req.headers = {"Content-Type: " + manifest.media_type()};
  req.body = [&] { return std::make_unique<io::MemorySource>(manifest.bytes()); };
  req.body_size = manifest.bytes().size();
  HttpResponse r = exchange(op, req, push_scope(repository));
  if (r.status != 201) {
    if (references_unknown(r))
      throw Error(ErrorKind::Remote,
                  fmt::format("{}: {} (on {})", op.what, describe_status(r.status, r.body), registry_),
                  "the manifest references content that is not in the repository; push its blobs and child manifests first");
    fail(op, r);
  }
  std::string got = r.header("docker-content-digest");
  if (!got.empty() && got != manifest.digest().str())
    throw Error(ErrorKind::Integrity,
                fmt::format("{}: the registry stored the manifest as {}, not {}", op.what, got, manifest.digest().str()));
  ++counters_.manifests_pushed;
  return manifest.subject() && r.header("oci-subject") == manifest.subject()->digest.str();
}

std::optional<oci::Manifest> RegistryClient::referrers(const std::string& repository, const oci::Digest& subject) {
  check_repository(repository);
  Op op{false, fmt::format("list referrers of {}/{}@{}", registry_, repository, subject.str()), repository};
  HttpRequest req;
  req.url = url(fmt::format("/v2/{}/referrers/{}", repository, subject.str()));
  req.headers.push_back(fmt::format("Accept: {}", oci::media::kOciIndex));
  req.max_body = options_.max_manifest_size;
  HttpResponse r = exchange(op, req, pull_scope(repository));
  // 404: no referrers API (the caller falls back to the referrers tag); on Harbor, whose API
  // answers 200 for any subject, a project that does not exist holds nothing to list either.
  if (content_unknown(r)) return std::nullopt;
  if (r.status != 200) fail(op, r);
  // Some registries (CUE's ociregistry) write "manifests":null for a subject nothing refers to,
  // where the spec asks for []; the list is built fresh per request, so read it as empty.
  if (auto doc = nlohmann::json::parse(r.body, nullptr, false);
      doc.is_object() && doc.contains("manifests") && doc["manifests"].is_null()) {
    doc["manifests"] = nlohmann::json::array();
    r.body = doc.dump();
  }
  try {
    oci::Manifest index = oci::Manifest::parse(std::move(r.body), oci::media::kOciIndex);
    if (!index.is_index()) throw Error(ErrorKind::Input, "not an image index");
    return index;
  } catch (const Error& e) {
    throw Error(ErrorKind::Remote, fmt::format("{}: the registry sent a malformed referrers index: {}", op.what, e.what()));
  }
}

}  // namespace sealift::registry
