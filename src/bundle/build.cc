#include "bundle/build.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bundle/archive_reader.h"
#include "bundle/archive_writer.h"
#include "bundle/blob_cache.h"
#include "bundle/layout.h"
#include "bundle/resume.h"
#include "chart/artifact.h"
#include "chart/metadata.h"
#include "chart/package.h"
#include "helm/helm.h"
#include "lock/image_lock.h"
#include "registry/image.h"
#include "registry/transfer.h"
#include "sbom/cache.h"
#include "sbom/syft.h"
#include "sign/blob.h"
#include "sign/key.h"
#include "sign/sigmanifest.h"
#include "sign/sigstore_bundle.h"
#include "tool/artifact.h"
#include "tool/elf.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::bundle {

namespace fs = std::filesystem;

namespace {

// A source that reports bytes to the progress display as they pass.
class CountingSource : public io::Source {
 public:
  CountingSource(io::Source& inner, util::Progress& progress, std::function<void(uint64_t)> on_read = {})
      : inner_(inner), progress_(progress), on_read_(std::move(on_read)) {}
  size_t read(std::span<std::byte> buf) override {
    size_t n = inner_.read(buf);
    progress_.advance(n);
    read_ += n;
    if (on_read_) on_read_(read_);
    return n;
  }

 private:
  io::Source& inner_;
  util::Progress& progress_;
  std::function<void(uint64_t)> on_read_;
  uint64_t read_ = 0;
};

// What the bundle carries for one locked image.
struct PulledImage {
  const lock::LockedImage* locked = nullptr;
  oci::Descriptor carried;                   // root manifest or (reduced) index in the bundle
  std::vector<oci::Descriptor> manifests;    // platform manifests, then the root
  std::vector<std::string> platforms;        // of each platform manifest, as its index gives it
  std::vector<oci::Descriptor> configs;
  std::vector<oci::Descriptor> layers;
};

// The content the archive gets, by digest: small documents held in memory, big blobs in the cache.
struct Content {
  std::map<oci::Digest, std::string> documents;
  std::vector<oci::Digest> document_order;
  std::vector<oci::Descriptor> large;  // chart package, layers (in archive order)
  std::set<oci::Digest> large_seen;

  void add_document(const std::string& bytes) {
    oci::Digest d = oci::Digest::of(bytes);
    if (documents.emplace(d, bytes).second) document_order.push_back(d);
  }
  void add_large(const oci::Descriptor& d) {
    if (documents.count(d.digest) || !large_seen.insert(d.digest).second) return;
    large.push_back(d);
  }
};

std::vector<oci::Platform> locked_platforms(const lock::LockedImage& image) {
  std::vector<oci::Platform> out;
  for (const auto& p : image.platforms) out.push_back(oci::Platform{p.os, p.architecture, p.variant, {}});
  return out;
}

// The index with only `keep` among its manifests; everything else byte-for-byte as upstream wrote
// it is impossible once an entry goes, so this is a new document (its digest is recorded).
std::string reduce_index(const std::string& index_bytes, const std::vector<oci::Descriptor>& keep) {
  auto j = nlohmann::ordered_json::parse(index_bytes);
  std::set<std::string> wanted;
  for (const auto& d : keep) wanted.insert(d.digest.str());
  nlohmann::ordered_json kept = nlohmann::ordered_json::array();
  for (const auto& m : j.at("manifests"))
    if (wanted.count(m.at("digest").get<std::string>())) kept.push_back(m);
  j["manifests"] = kept;
  return j.dump();
}

struct BaseBundle {
  RootBase identity;
  std::set<oci::Digest> blobs;  // what a target that installed the base holds
};

BaseBundle read_base(const fs::path& path) {
  ArchiveReader reader(path);
  std::string bytes = reader.read_small(kRootFile);
  Root root = Root::parse(bytes);
  BaseBundle base{{root.name, root.version, oci::Digest::of(bytes)}, {}};
  for (const auto& e : reader.entries())
    if (auto d = blob_digest(e.name)) base.blobs.insert(*d);
  base.blobs.insert(root.omitted_blobs.begin(), root.omitted_blobs.end());
  return base;
}

class Clients {
 public:
  Clients(const BuildOptions& o, util::Progress& progress) : options_(o), progress_(progress) {}

  registry::RegistryClient& for_source(const std::string& source_registry) {
    auto m = options_.mirrors.find(source_registry);
    std::string host = m != options_.mirrors.end() ? m->second : source_registry;
    auto& slot = clients_[host];
    if (!slot) {
      registry::RegistryOptions ro;
      ro.http = options_.http;
      // Standard input can be read only once; every source registry shares what it held.
      auto read_stdin = [this] {
        if (!stdin_password_) stdin_password_ = registry::read_password_from_stdin();
        return *stdin_password_;
      };
      ro.credentials =
          registry::resolve_credentials(host, options_.credentials, read_stdin, registry::process_environment());
      ro.progress = [this](const oci::Digest& d, uint64_t done, uint64_t) {
        if (!counting_) return;
        std::lock_guard lock(mu_);
        uint64_t& seen = seen_[d];
        if (done > seen) {
          progress_.advance(done - seen);
          seen = done;
        }
      };
      slot = std::make_unique<registry::RegistryClient>(host, ro);
    }
    return *slot;
  }

  // Fetched bytes count in the progress of the pull phase only: the write phase, which waits for
  // the fetches still running, counts what it writes.
  void stop_counting() { counting_ = false; }

  uint64_t bytes_fetched() const {
    uint64_t n = 0;
    for (const auto& [_, c] : clients_) n += c->stats().bytes_fetched;
    return n;
  }

 private:
  const BuildOptions& options_;
  util::Progress& progress_;
  std::map<std::string, std::unique_ptr<registry::RegistryClient>> clients_;
  std::mutex mu_;
  std::map<oci::Digest, uint64_t> seen_;
  std::atomic<bool> counting_{true};
  std::optional<std::string> stdin_password_;
};

// Fetches the image's manifests and queues its blobs; returns at once.
registry::ImagePuller::Image start_pull(const lock::LockedImage& image, const BuildOptions& o, Clients& clients,
                                        registry::ImagePuller& puller) {
  std::vector<oci::Platform> wanted = o.platforms.empty() ? locked_platforms(image) : o.platforms;
  auto& client = clients.for_source(image.source.registry);
  // By the locked digest: a tag that moved upstream must not change what ships.
  return puller.add(client, image.source.repository, image.digest.str(), wanted);
}

// What the bundle carries of a pulled image: its documents (configs waited for) and its layers.
PulledImage carry(const lock::LockedImage& image, const registry::ImagePuller::Image& t, registry::ImagePuller& puller,
                  const BlobCache& cache, Content& content) {
  PulledImage out;
  out.locked = &image;
  const oci::Manifest& root = *std::find_if(t.manifests.begin(), t.manifests.end(), [&](const oci::Manifest& m) {
    return m.digest() == t.transfer.root.digest;
  });
  for (const auto& m : t.manifests) {
    if (m.digest() == root.digest()) continue;
    if (!image.has_digest(m.digest()))
      throw Error(ErrorKind::Integrity,
                  fmt::format("{}: platform manifest {} is not in images.lock", image.source.str(), m.digest().str()),
                  "run `sealift-bundle lock` to refresh the lock");
    content.add_document(m.bytes());
    out.manifests.push_back(m.descriptor());
    std::string platform = "unknown";
    for (const auto& d : root.manifests())
      if (d.digest == m.digest() && d.platform) platform = d.platform->str();
    out.platforms.push_back(platform);
    out.configs.push_back(m.config());
    for (const auto& l : m.layers()) out.layers.push_back(l);
  }
  out.carried = root.descriptor();
  if (root.is_index()) {
    std::vector<oci::Descriptor> kept(out.manifests.begin(), out.manifests.end());
    if (kept.size() != root.manifests().size()) {
      std::string reduced = reduce_index(root.bytes(), kept);
      oci::Manifest r = oci::Manifest::parse(reduced, root.media_type());
      out.carried = r.descriptor();
      content.add_document(reduced);
    } else {
      content.add_document(root.bytes());
    }
  } else {
    content.add_document(root.bytes());
    out.configs.push_back(root.config());
    for (const auto& l : root.layers()) out.layers.push_back(l);
  }
  for (const auto& c : out.configs) {
    puller.wait_blob(c.digest);
    content.add_document(util::read_file(cache.path(c.digest)));
  }
  return out;
}

// gzip and zstd layers (OCI "+gzip"/"+zstd", Docker ".tar.gzip"/".tar.zstd"): zstd gains nothing.
bool compressed_media_type(std::string_view media_type) {
  for (std::string_view suffix : {"+gzip", "+zstd", ".gzip", ".zstd"})
    if (media_type.ends_with(suffix)) return true;
  return false;
}

void add_signature(const sign::Signer& key, const std::string& docker_reference, const oci::Digest& subject,
                   Content& content, oci::Descriptor& manifest_out) {
  sign::ImageSignature sig = sign::sign_image(key, docker_reference, subject);
  sign::SignatureManifest sm;
  sm.add(sig, key.public_key());
  content.add_document(sig.payload);
  content.add_document(sm.config());
  oci::Manifest m = oci::Manifest::parse(sm.manifest(), oci::media::kOciManifest);
  content.add_document(m.bytes());
  manifest_out = m.descriptor();
}

// The same signature in cosign v3's form: a Sigstore bundle in a referrer manifest over `subject`.
void add_sigstore_signature(const sign::Signer& key, const oci::Descriptor& subject, const std::string& created,
                            Content& content, oci::Descriptor& manifest_out) {
  sign::SigstoreSignature sig = sign::sign_sigstore(key, subject, created);
  content.add_document(sig.bundle);
  content.add_document(std::string(sign::kEmptyConfig));
  oci::Manifest m = oci::Manifest::parse(sig.manifest, oci::media::kOciManifest);
  content.add_document(m.bytes());
  manifest_out = m.descriptor();
  manifest_out.artifact_type = std::string(sign::kSigstoreBundleMediaType);
}

// The referrers of the image as its publisher pushed them: through the referrers API, else the
// referrers tag. A manifest is fetched once, however many readers (signatures, attestations) ask.
class UpstreamReferrers {
 public:
  UpstreamReferrers(registry::RegistryClient& client, const lock::LockedImage& image) : client_(client), image_(image) {
    const std::string& repo = image.source.repository;
    if (auto index = client.referrers(repo, image.digest)) {
      listed_ = index->manifests();
    } else if (client.find(repo, image.digest.tag_form())) {
      oci::Manifest tag = client.get_manifest(repo, image.digest.tag_form());
      if (tag.is_index()) listed_ = tag.manifests();
    }
  }
  const std::vector<oci::Descriptor>& listed() const { return listed_; }
  const oci::Manifest& manifest(const oci::Descriptor& d) {
    auto it = manifests_.find(d.digest);
    if (it == manifests_.end()) it = manifests_.emplace(d.digest, client_.get_manifest(image_.source.repository, d)).first;
    return it->second;
  }

 private:
  registry::RegistryClient& client_;
  const lock::LockedImage& image_;
  std::vector<oci::Descriptor> listed_;
  std::map<oci::Digest, oci::Manifest> manifests_;
};

// A referrer's small blob, fetched whole and added to `content`.
std::string fetch_small(registry::RegistryClient& client, const lock::LockedImage& image, const oci::Descriptor& d,
                        Content& content, int64_t max_size) {
  if (d.size > max_size)
    throw Error(ErrorKind::Integrity,
                fmt::format("{}: upstream referrer blob {} has {} bytes, more than the {} allowed", image.source.str(),
                            d.digest.str(), d.size, max_size));
  io::StringSink sink;
  client.fetch_blob(image.source.repository, d, sink);
  content.add_document(sink.out);
  return sink.out;
}

// The image's Sigstore bundle signatures among its upstream referrers, each checked as a signature
// over exactly the carried image and verified with one of `upstream`. Added to `content`; returns
// their referrer manifests. Throws Error(Integrity) naming the image when it has signature
// referrers and none verifies.
std::vector<oci::Descriptor> carry_upstream_signatures(registry::RegistryClient& client, const lock::LockedImage& image,
                                                       const oci::Descriptor& carried, UpstreamReferrers& referrers,
                                                       const sign::TrustedKeys& upstream, Content& content) {
  const std::string& repo = image.source.repository;
  const std::string name = image.source.str();
  std::vector<oci::Descriptor> out;
  std::vector<std::string> problems;
  for (const auto& d : referrers.listed()) {
    if (!sign::is_signature_referrer(d) || d.media_type != oci::media::kOciManifest) continue;
    try {
      const oci::Manifest& m = referrers.manifest(d);
      // cosign's referrers tag entries carry no annotations: the manifest tells an attestation.
      if (sign::announced_predicate_type(m) != "" && sign::announced_predicate_type(m) != sign::kCosignSignPredicateType)
        continue;
      oci::Descriptor layer = sign::check_signature_referrer(m, carried, name);
      if (layer.size > (1 << 20))
        throw Error(ErrorKind::Integrity, fmt::format("{}: upstream Sigstore bundle {} has {} bytes", name, layer.digest.str(), layer.size));
      io::StringSink bundle;
      client.fetch_blob(repo, layer, bundle);
      sign::verify_sigstore_bundle(bundle.out, image.digest, upstream, name);
      content.add_document(bundle.out);
      content.add_document(std::string(sign::kEmptyConfig));
      content.add_document(m.bytes());
      oci::Descriptor ref = m.descriptor();
      ref.artifact_type = m.artifact_type();
      out.push_back(ref);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Integrity) throw;
      problems.push_back(e.what());
    }
  }
  if (out.empty() && !problems.empty())
    throw Error(ErrorKind::Integrity,
                fmt::format("{}: none of its {} upstream signature(s) verifies with the --upstream-key given: {}", name,
                            problems.size(), fmt::join(problems, "; ")),
                "check that --upstream-key is the key of this image's publisher, or leave --upstream-key out");
  return out;
}

// The attestations (cosign attest: Sigstore bundles of any predicate but a signature's) and plain
// SBOM artifacts (SPDX, CycloneDX) among the image's upstream referrers, carried as found. Each
// must name exactly the carried image as its subject, else the build stops (the registry answers
// for another image: nothing it says about this one can be trusted). With `upstream` keys, an
// attestation that does not verify is left behind and named in `skipped`.
std::vector<oci::Descriptor> carry_upstream_attestations(registry::RegistryClient& client, const lock::LockedImage& image,
                                                         const oci::Descriptor& carried, UpstreamReferrers& referrers,
                                                         const sign::TrustedKeys& upstream, Content& content,
                                                         std::vector<std::string>& skipped) {
  constexpr int64_t kMaxSbom = 256 << 20;
  const std::string name = image.source.str();
  std::vector<oci::Descriptor> out;
  for (const auto& d : referrers.listed()) {
    if (d.media_type != oci::media::kOciManifest) continue;
    const bool bundle = d.artifact_type == sign::kSigstoreBundleMediaType;
    const bool sbom = d.artifact_type == sbom::kSpdxArtifactType || d.artifact_type == sbom::kCycloneDxArtifactType;
    if (!(bundle && sign::is_attestation_referrer(d)) && !sbom) continue;
    const oci::Manifest& m = referrers.manifest(d);
    if (bundle) {
      std::string predicate_type = sign::announced_predicate_type(m);
      if (predicate_type.empty() || predicate_type == sign::kCosignSignPredicateType) continue;
      oci::Descriptor layer = sign::check_attestation_referrer(m, carried, predicate_type, name);
      if (!upstream.empty()) {
        io::StringSink probe;
        if (layer.size > kMaxSbom)
          throw Error(ErrorKind::Integrity, fmt::format("{}: upstream attestation {} has {} bytes", name, layer.digest.str(), layer.size));
        client.fetch_blob(image.source.repository, layer, probe);
        try {
          sign::verify_attestation_bundle(probe.out, image.digest, predicate_type, upstream, name);
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::Integrity) throw;
          skipped.push_back(e.what());
          continue;
        }
      }
      fetch_small(client, image, layer, content, kMaxSbom);
      content.add_document(std::string(sign::kEmptyConfig));
    } else {
      const auto& s = m.subject();
      if (!s || s->digest != carried.digest || s->size != carried.size || s->media_type != carried.media_type)
        throw Error(ErrorKind::Integrity,
                    fmt::format("{}: upstream SBOM {} is listed as its referrer but its subject is {}", name,
                                m.digest().str(), s ? s->digest.str() : std::string("missing")),
                    "the source registry's referrers are inconsistent; build with --sbom none to leave them out");
      if (m.layers().empty() || m.layers().size() > 16)
        throw Error(ErrorKind::Integrity, fmt::format("{}: upstream SBOM {} has {} layers", name, m.digest().str(), m.layers().size()));
      if (m.config().digest == oci::Digest::of(sign::kEmptyConfig)) content.add_document(std::string(sign::kEmptyConfig));
      else fetch_small(client, image, m.config(), content, 1 << 20);
      for (const auto& l : m.layers()) fetch_small(client, image, l, content, kMaxSbom);
    }
    content.add_document(m.bytes());
    oci::Descriptor ref = m.descriptor();
    ref.artifact_type = m.artifact_type();
    out.push_back(ref);
  }
  return out;
}

// Runs SBOM scans beside the rest of the build, on as many workers as there are cores (2 to 4):
// syft is the slowest part of a build that makes SBOMs, and one scan at a time leaves cores idle
// while syft unpacks layers or the build waits for the network. Jobs that never started when the
// pool goes (a failed build) are dropped; running ones finish first.
class ScanPool {
 public:
  ScanPool() {
    const unsigned n = std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
    for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
  }
  ~ScanPool() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      queue_.clear();
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  ScanPool(const ScanPool&) = delete;
  ScanPool& operator=(const ScanPool&) = delete;

  std::shared_future<std::string> submit(std::function<std::string()> job) {
    std::packaged_task<std::string()> task(std::move(job));
    std::shared_future<std::string> result = task.get_future().share();
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return result;
  }

 private:
  void work() {
    for (;;) {
      std::packaged_task<std::string()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();  // an exception is kept in the future, for the build to rethrow in order
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<std::string()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// An image's SBOMs on their way: one per platform image, from the SBOM cache or a scan.
struct SbomScans {
  std::vector<std::pair<std::string, std::shared_future<std::string>>> platforms;  // platform, SPDX
};

// Starts the SBOMs of `img`, one per platform image: an image scanned before (a rebuild, an
// unchanged image of the next release or of a delta) comes from the cache and costs no scan; the
// others are scanned on `pool` once their layers are in (waited for here, on the build's thread:
// the puller is not shared with the workers).
SbomScans start_sboms(const sbom::Syft& syft, const sbom::SbomCache& sboms, const PulledImage& img,
                      const BlobCache& cache, registry::ImagePuller& puller, const std::string& created,
                      const fs::path& scratch, const BuildOptions::Seams& seams, const Content& content,
                      ScanPool& pool, uint64_t& cached) {
  std::vector<std::pair<oci::Descriptor, std::string>> platforms;
  for (size_t i = 0; i < img.manifests.size(); ++i) platforms.push_back({img.manifests[i], img.platforms[i]});
  if (platforms.empty()) {
    // A single-platform image: the manifest itself, its platform from its config.
    std::string platform = "unknown";
    const std::string& bytes = content.documents.at(img.carried.digest);
    oci::Manifest m = oci::Manifest::parse(bytes, img.carried.media_type);
    auto config = nlohmann::json::parse(content.documents.at(m.config().digest), nullptr, false);
    if (config.is_object() && config.contains("os") && config.contains("architecture"))
      platform = config.value("os", "") + "/" + config.value("architecture", "") +
                 (config.value("variant", "").empty() ? "" : "/" + config.value("variant", ""));
    platforms.push_back({img.carried, platform});
  }
  SbomScans out;
  for (const auto& [manifest, platform] : platforms) {
    sbom::ScanInput in;
    in.source = img.locked->source.str();
    in.platform = platform;
    in.manifest = manifest;
    in.manifest_bytes = content.documents.at(manifest.digest);
    // Configs are held as documents; the cache has them too (they were pulled there).
    in.blob_path = [&cache](const oci::Digest& d) { return cache.path(d); };
    in.staged = seams.syft_staged;
    if (std::optional<std::string> spdx = sboms.find(in, syft.version(), created)) {
      ++cached;
      std::promise<std::string> ready;
      ready.set_value(std::move(*spdx));
      out.platforms.push_back({platform, ready.get_future().share()});
      continue;
    }
    oci::Manifest m = oci::Manifest::parse(in.manifest_bytes, manifest.media_type);
    for (const auto& l : m.layers()) puller.wait_blob(l.digest);
    out.platforms.push_back(
        {platform, pool.submit([&syft, &sboms, in = std::move(in), scratch, created] {
           std::string spdx = syft.scan(in, scratch, created);
           sboms.store(in, syft.version(), spdx);
           return spdx;
         })});
  }
  return out;
}

// The image's SBOMs, each signed as an attestation over the carried image (as `cosign attest
// --type spdxjson` would sign it) and added to `content`, in platform order. Rethrows a scan's
// failure.
std::vector<oci::Descriptor> sign_sboms(const SbomScans& scans, const PulledImage& img, const sign::Signer& key,
                                        const std::string& created, Content& content) {
  std::vector<oci::Descriptor> out;
  for (const auto& [platform, spdx] : scans.platforms) {
    sign::SigstoreSignature att = sign::sign_attestation(key, img.carried, created, sbom::kSpdxPredicateType, spdx.get(),
                                                         {{std::string(sbom::kPlatformAnnotation), platform}});
    content.add_document(att.bundle);
    content.add_document(std::string(sign::kEmptyConfig));
    oci::Manifest ref = oci::Manifest::parse(att.manifest, oci::media::kOciManifest);
    content.add_document(ref.bytes());
    oci::Descriptor d = ref.descriptor();
    d.artifact_type = std::string(sign::kSigstoreBundleMediaType);
    out.push_back(d);
  }
  return out;
}

// A tool binary to carry (--include-helm), checked before anything is pulled.
struct ToolInput {
  std::string name, version, platform;
  fs::path file;
  oci::Digest digest;
  int64_t size = 0;
};

ToolInput helm_input(const fs::path& file, const std::string& version) {
  ToolInput t{"helm", version, tool::elf_platform(file), fs::absolute(file), {}, 0};
  if (t.version.empty()) {
    if (t.platform != tool::host_platform())
      throw Error(ErrorKind::Usage,
                  fmt::format("{} is a helm for {}; this host ({}) cannot run it to ask its version", file.string(),
                              t.platform, tool::host_platform()),
                  "give its version with --helm-version (e.g. --helm-version v3.21.4)");
    try {
      t.version = helm::Helm(t.file).version();  // helm 3 or helm 4, or refused
    } catch (const Error& e) {
      throw Error(ErrorKind::Input, fmt::format("--include-helm {}: {}", file.string(), e.what()),
                  "give a helm 3 or helm 4 binary, or its version with --helm-version");
    }
  }
  tool::reference(t.name, t.version);  // refuses a version that cannot be a tag, before any pull
  util::FileSource source(t.file);
  oci::Sha256 hash;
  std::vector<std::byte> buf(1 << 20);
  for (size_t n; (n = source.read(buf)) > 0;) hash.update(std::span<const std::byte>(buf.data(), n));
  t.size = static_cast<int64_t>(hash.bytes());
  t.digest = hash.finish();
  return t;
}

// A large blob as the bundle gets it, hashed again as it is written, whatever checked it before
// (its transfer, the cache's first read, the tool's digest): a file replaced since (in a cache
// another user can write, a tool binary rebuilt meanwhile) fails the build naming it, instead of
// the customer's verify. One SHA-256 pass per blob.
class CheckedSource : public io::Source {
 public:
  CheckedSource(io::Source& inner, const oci::Descriptor& d, std::string what)
      : inner_(inner), d_(d), what_(std::move(what)) {}
  size_t read(std::span<std::byte> buf) override {
    size_t n = inner_.read(buf);
    hash_.update(std::span<const std::byte>(buf.data(), n));
    if (n == 0 && !checked_) {
      checked_ = true;
      const uint64_t size = hash_.bytes();
      const oci::Digest got = hash_.finish();
      if (got != d_.digest || size != static_cast<uint64_t>(d_.size))
        throw Error(ErrorKind::Integrity,
                    fmt::format("{} changed after it was verified: the bytes written into the bundle hash to {} "
                                "({} bytes)",
                                what_, got.str(), size),
                    "build again; if it happens again, check who else can write the blob cache and the tool files");
    }
    return n;
  }

 private:
  io::Source& inner_;
  const oci::Descriptor& d_;
  std::string what_;
  oci::Sha256 hash_;
  bool checked_ = false;
};

}  // namespace

BuildResult build(const BuildOptions& o, util::Progress& progress) {
  if (o.output.empty()) throw Error(ErrorKind::Usage, "no output path given (--output)");

  const fs::path cache_dir = o.cache_dir.empty() ? default_cache_dir() : o.cache_dir;
  // Inputs first: a stale lock, a wrong password or PIN should fail before any download.
  lock::ImageLock lock = lock::ImageLock::load(o.lock_file);
  std::string lock_text = util::read_file(o.lock_file);
  chart::Metadata metadata = chart::Metadata::load(o.chart_dir);
  io::StringSink package;
  chart::Package pkg = chart::write_package(o.chart_dir, package);
  if (pkg.digest != lock.chart.digest)
    throw Error(ErrorKind::Input,
                fmt::format("{} has changed since {} was written: it packages to {}, the lock says {}",
                            o.chart_dir.string(), o.lock_file.string(), pkg.digest.str(), lock.chart.digest.str()),
                "run `sealift-bundle lock` and review the new lock");
  const std::unique_ptr<sign::Signer> signer = sign::open_signer(o.signer);
  const sign::Signer& key = *signer;
  // Read before anything is pulled: a wrong path is a usage error, not a late surprise.
  const sign::TrustedKeys upstream_keys = sign::TrustedKeys::from_files(o.upstream_keys);
  std::optional<sbom::Syft> syft;
  if (o.sbom == BuildOptions::Sbom::Auto || o.sbom == BuildOptions::Sbom::Syft) {
    fs::path binary = o.syft.empty() ? sbom::Syft::find() : o.syft;
    if (!binary.empty()) syft.emplace(binary);
    else if (o.sbom == BuildOptions::Sbom::Syft)
      throw Error(ErrorKind::Usage, "--sbom syft: syft is not on PATH", "install syft, or name it with --syft PATH");
  }
  std::optional<ToolInput> helm_binary;
  if (!o.include_helm.empty()) helm_binary = helm_input(o.include_helm, o.helm_version);
  else if (!o.helm_version.empty())
    throw Error(ErrorKind::Usage, "--helm-version needs --include-helm", "name the helm binary with --include-helm");
  std::optional<BaseBundle> base;
  if (!o.base.empty()) base = read_base(o.base);

  BuildResult result;
  if (syft) result.syft_version = syft->version();
  else if (o.sbom == BuildOptions::Sbom::Auto)
    result.notes.push_back("syft is not on PATH: images without an upstream SBOM get none (--sbom none says so on purpose)");
  Root& root = result.root;
  root.name = o.name.empty() ? metadata.name : o.name;
  root.version = o.version.empty() ? metadata.version : o.version;
  root.created = creation_time();
  root.tool = std::string("sealift ") + SEALIFT_VERSION;
  root.lock = lock_text;
  for (const auto& p : o.platforms) root.platforms.push_back(p.str());

  // Pull: every image's manifests now, its blobs queued on one scheduler; the archive is written
  // while they arrive, each layer when its turn comes. Declared before the writer, so that on an
  // error the unfinished bundle goes first, then the queued transfers (running ones finish).
  BlobCache cache(cache_dir);
  // Checked as the cache is: an SBOM read from it is signed with the vendor's key.
  const sbom::SbomCache sbom_cache(BlobCache::private_dir(cache_dir / "sboms"));
  // What a killed build of this output streamed into its unfinished bundle is not downloaded again.
  Harvest resumed = harvest_leftovers(o.output, cache);
  if (resumed.blobs > 0)
    result.notes.push_back(fmt::format("resumed {} blob(s), {} bytes, from the unfinished bundle of an earlier build",
                                       resumed.blobs, resumed.bytes));
  for (const auto& p : resumed.problems) result.notes.push_back("unfinished bundle of an earlier build: " + p);
  Clients clients(o, progress);
  registry::TransferScheduler scheduler(o.jobs);
  registry::ImagePuller puller(scheduler, cache);
  // Without SBOMs to make, nothing needs whole images before the archive is written: layers are
  // pulled just ahead of the writer (below), so most go from the network straight into the archive.
  if (!syft && !o.keep_cache) puller.hold_layers();
  Content content;
  std::vector<PulledImage> images;
  progress.begin("pull", 0);
  {
    std::vector<registry::ImagePuller::Image> started;
    for (const auto& image : lock.images) started.push_back(start_pull(image, o, clients, puller));
    for (size_t i = 0; i < lock.images.size(); ++i)
      images.push_back(carry(lock.images[i], started[i], puller, cache, content));
  }
  progress.end();
  clients.stop_counting();

  // SBOM scans start now and run while the signatures are made and the upstream referrers read.
  // With --upstream-key, an image whose publisher's SBOM verifies gets none of its own, which is
  // known only once its referrers are read: those scans start in the loop below instead.
  const fs::path sbom_scratch = syft ? BlobCache::private_dir(cache_dir / "sbom-scratch") : fs::path();
  std::optional<ScanPool> scan_pool;
  std::vector<std::optional<SbomScans>> scans(images.size());
  if (syft) {
    scan_pool.emplace();
    if (upstream_keys.empty())
      for (size_t i = 0; i < images.size(); ++i)
        scans[i] = start_sboms(*syft, sbom_cache, images[i], cache, puller, root.created, sbom_scratch, o.seams,
                               content, *scan_pool, result.sboms_cached);
  }

  // The chart as a Helm OCI artifact.
  chart::Artifact chart = chart::make_artifact(metadata, pkg.digest, static_cast<int64_t>(pkg.size));
  content.add_document(chart.config);
  content.add_document(chart.manifest.bytes());

  // Signatures, over exactly what the bundle carries.
  std::vector<LayoutEntry> entries;
  for (size_t image_index = 0; image_index < images.size(); ++image_index) {
    PulledImage& img = images[image_index];
    RootImage ri;
    ri.source = img.locked->source.str();
    ri.digest = img.carried.digest;
    ri.media_type = img.carried.media_type;
    ri.upstream_digest = img.locked->digest;
    oci::Descriptor sig;
    add_signature(key, img.locked->source.name(), img.carried.digest, content, sig);
    ri.signature = sig.digest;
    oci::Descriptor referrer;
    add_sigstore_signature(key, img.carried, root.created, content, referrer);
    ri.referrer = referrer.digest;
    std::vector<oci::Descriptor> upstream_refs, attestations;
    const bool want_upstream = o.sbom != BuildOptions::Sbom::None;
    if (!upstream_keys.empty() || want_upstream) {
      if (img.carried.digest != img.locked->digest) {
        // A platform filter made a new index: upstream signed another digest.
        if (!upstream_keys.empty())
          result.unsigned_upstream.push_back(ri.source + " (reduced to the kept platforms; upstream signed the whole index)");
      } else {
        auto& client = clients.for_source(img.locked->source.registry);
        UpstreamReferrers referrers(client, *img.locked);
        if (!upstream_keys.empty()) {
          upstream_refs = carry_upstream_signatures(client, *img.locked, img.carried, referrers, upstream_keys, content);
          if (upstream_refs.empty()) result.unsigned_upstream.push_back(ri.source);
        }
        if (want_upstream)
          attestations = carry_upstream_attestations(client, *img.locked, img.carried, referrers, upstream_keys, content,
                                                     result.notes);
      }
    }
    for (const auto& u : upstream_refs) ri.upstream_signatures.push_back(u.digest);
    result.upstream_signatures += upstream_refs.size();
    for (const auto& a : attestations) ri.upstream_attestations.push_back(a.digest);
    result.upstream_attestations += attestations.size();
    // An SBOM of its own only for an image whose publisher gave one that verified with
    // --upstream-key (carry_upstream_attestations keeps no other attestation then). A plain SBOM
    // artifact, or any attestation without the key, is whatever someone who can push a referrer
    // to the source attached: it travels, but the image still gets the vendor's signed SBOM.
    bool has_upstream_sbom = false;
    for (const auto& a : attestations) {
      if (upstream_keys.empty() || a.artifact_type != sign::kSigstoreBundleMediaType) continue;
      const std::string& bytes = content.documents.at(a.digest);
      oci::Manifest m = oci::Manifest::parse(bytes, oci::media::kOciManifest);
      if (sbom::is_sbom_predicate_type(sign::announced_predicate_type(m))) has_upstream_sbom = true;
    }
    std::vector<oci::Descriptor> sboms;
    if (syft && !has_upstream_sbom) {
      progress.note(fmt::format("SBOM of {} (syft {})", ri.source, syft->version()));
      std::optional<SbomScans>& started = scans[image_index];
      if (!started)
        started = start_sboms(*syft, sbom_cache, img, cache, puller, root.created, sbom_scratch, o.seams, content,
                              *scan_pool, result.sboms_cached);
      sboms = sign_sboms(*started, img, key, root.created, content);
    }
    for (const auto& b : sboms) ri.sboms.push_back(b.digest);
    result.sboms_generated += sboms.size();
    root.images.push_back(ri);
    entries.push_back({EntryKind::Image, ri.source, img.carried});
    entries.push_back({EntryKind::Signature,
                       img.locked->source.name() + ":" + img.carried.digest.tag_form() + ".sig", sig});
    entries.push_back({EntryKind::Referrer, img.locked->source.name() + "@" + referrer.digest.str(), referrer});
    for (const auto* list : {&upstream_refs, &sboms, &attestations})
      for (const auto& u : *list)
        entries.push_back({EntryKind::Referrer, img.locked->source.name() + "@" + u.digest.str(), u});
  }
  std::string chart_repository = "charts/" + metadata.name;
  oci::Descriptor chart_sig;
  add_signature(key, chart_repository, chart.manifest.digest(), content, chart_sig);
  oci::Descriptor chart_referrer;
  add_sigstore_signature(key, chart.manifest.descriptor(), root.created, content, chart_referrer);
  std::string chart_tag = metadata.version;
  std::replace(chart_tag.begin(), chart_tag.end(), '+', '_');  // helm's tag rule for SemVer build metadata
  root.chart = {metadata.name,
                metadata.version,
                chart_repository + ":" + chart_tag,
                chart.manifest.digest(),
                chart.manifest.size(),
                pkg.digest,
                chart_sig.digest,
                chart_referrer.digest};
  entries.push_back({EntryKind::Chart, root.chart.reference, chart.manifest.descriptor()});
  entries.back().descriptor.artifact_type = std::string(oci::media::kHelmConfig);
  entries.push_back({EntryKind::Signature, chart_repository + ":" + chart.manifest.digest().tag_form() + ".sig",
                     chart_sig});
  entries.push_back({EntryKind::Referrer, chart_repository + "@" + chart_referrer.digest.str(), chart_referrer});

  // The helm binary as a tool artifact; sealift.json names its manifest and binary, so the root's
  // signature covers it (tools get no cosign signature of their own: nothing pushes them).
  std::optional<tool::Artifact> helm_artifact;
  if (helm_binary) {
    const ToolInput& h = *helm_binary;
    helm_artifact = tool::make_artifact(h.name, h.version, h.platform, h.digest, h.size);
    content.add_document(std::string(tool::kEmptyConfig));
    content.add_document(helm_artifact->manifest.bytes());
    root.tools.push_back({h.name, h.version, h.platform, tool::reference(h.name, h.version),
                          helm_artifact->manifest.digest(), helm_artifact->manifest.size(), h.digest, h.size});
    entries.push_back({EntryKind::Tool, root.tools.back().reference, helm_artifact->manifest.descriptor()});
    entries.back().descriptor.artifact_type = std::string(tool::kArtifactType);
  }

  // Large blobs: the chart package, the tools, then the layers, each once; a delta leaves out what
  // the base has.
  oci::Descriptor package_descriptor = chart.package_descriptor;
  content.add_large(package_descriptor);
  if (helm_artifact) content.add_large(helm_artifact->binary_descriptor);
  for (const auto& img : images)
    for (const auto& l : img.layers) content.add_large(l);
  auto is_tool = [&](const oci::Digest& d) { return helm_binary && d == helm_binary->digest; };
  std::vector<oci::Descriptor> to_write;
  for (const auto& d : content.large) {
    // The chart package always travels: it is small, and installing needs it from the bundle. So
    // do the tools: the installer host runs them from the bundle in hand, never from its base.
    if (base && base->blobs.count(d.digest) && d.digest != package_descriptor.digest && !is_tool(d.digest)) {
      root.omitted_blobs.push_back(d.digest);
      continue;
    }
    to_write.push_back(d);
  }
  std::sort(root.omitted_blobs.begin(), root.omitted_blobs.end());
  if (base) root.base = base->identity;
  result.blobs_omitted = root.omitted_blobs.size();

  std::string index = index_json(entries);
  root.index = oci::Digest::of(index);
  root.index_size = static_cast<int64_t>(index.size());
  std::string root_bytes = root.serialize();
  io::MemorySource root_source(root_bytes);
  std::string root_signature = sign::sign_blob(key, root_source);

  // Write: trust metadata first, documents next, big blobs last.
  WriterOptions wo;
  wo.split_size = o.split_size;
  wo.mtime = source_date_epoch().value_or(0);
  ArchiveWriter writer(o.output, wo);
  try {
    uint64_t total = 0;
    for (const auto& d : to_write) total += static_cast<uint64_t>(d.size);
    progress.begin("write", total);
    writer.add_bytes(std::string(kOciLayoutFile), kOciLayoutContent);
    writer.add_bytes(std::string(kRootFile), root_bytes);
    writer.add_bytes(std::string(kRootSignatureFile), root_signature);
    writer.add_bytes(std::string(kIndexFile), index);
    for (const auto& d : content.document_order) {
      writer.add_bytes(blob_path(d), content.documents.at(d));
      ++result.blobs_written;
      result.bytes_written += content.documents.at(d).size();
    }
    // Layers are released to the transfers up to `ahead` bytes beyond the writer's position. A blob
    // that completes before the writer reaches it waits in the cache (written and read back once
    // more), so the window adapts: it grows while the writer catches up with the transfers (the
    // network is the bound: more connections help) and shrinks while the writer finds blobs already
    // complete (the writer is the bound: pulling further ahead only adds disk traffic).
    constexpr uint64_t kMinAhead = 8ull << 20, kMaxAhead = 1ull << 30;
    uint64_t ahead = 32ull << 20;
    std::vector<uint64_t> ends;  // of each blob of to_write, in bytes from the first
    for (const auto& d : to_write) ends.push_back((ends.empty() ? 0 : ends.back()) + static_cast<uint64_t>(d.size));
    size_t released = 0;
    auto release_upto = [&](size_t head, uint64_t position) {
      for (; released < to_write.size() && (released <= head || ends[released - 1] < position + ahead); ++released)
        puller.release(to_write[released].digest);
    };
    for (size_t i = 0; i < to_write.size(); ++i) {
      const oci::Descriptor& d = to_write[i];
      const uint64_t start = ends[i] - static_cast<uint64_t>(d.size);
      release_upto(i, start);
      const bool was_complete = cache.verified(d.digest);
      std::unique_ptr<io::Source> src;
      std::string what = "blob " + d.digest.str();
      if (d.digest == package_descriptor.digest) {
        src = std::make_unique<io::MemorySource>(package.out);
      } else if (is_tool(d.digest)) {
        src = std::make_unique<util::FileSource>(helm_binary->file);
        what = helm_binary->file.string();
      } else if (o.keep_cache) {
        puller.wait_blob(d.digest);
        if (o.seams.cached_blob_verified) o.seams.cached_blob_verified(cache.path(d.digest), d);
        src = cache.open_verified(d);
      } else {
        // Straight from the transfer when it is still running: see BlobCache::open_streaming.
        src = cache.open_streaming(d, [&puller, digest = d.digest] { return puller.ended(digest); });
      }
      CheckedSource checked(*src, d, what);
      CountingSource counted(checked, progress, [&](uint64_t n) { release_upto(i, start + n); });
      try {
        writer.add(blob_path(d.digest), static_cast<uint64_t>(d.size), counted, compressed_media_type(d.media_type));
      } catch (const Error&) {
        // A failed transfer shows as a broken stream here: report the transfer's own error (its
        // job ends at once: its writer is gone). Asked before the source goes, which would make a
        // transfer still running fail too.
        const bool transfer_failed = cache.transfer_failed(d.digest);
        src.reset();
        if (transfer_failed || puller.ended(d.digest)) puller.wait_blob(d.digest);
        throw;
      }
      if (cache.streamed(d.digest)) ahead = std::min(kMaxAhead, 2 * ahead);
      else if (was_complete) ahead = std::max(kMinAhead, ahead / 2);
      ++result.blobs_written;
      result.bytes_written += static_cast<uint64_t>(d.size);
    }
    // Blobs a delta leaves out were pulled too (the cache keeps every image whole): all must have
    // arrived before the bundle is renamed into place.
    puller.finish();
    result.bytes_pulled = clients.bytes_fetched();
    result.files = writer.finish();
  } catch (...) {
    // Blobs streamed into the unfinished bundle exist nowhere else: back into the cache first, so
    // that the next build resumes instead of downloading them again.
    try {
      harvest_archive(writer.temp_paths(), cache);
    } catch (const std::exception&) {
      // Best effort: the build's own error is the one to report.
    }
    throw;
  }
  progress.end();
  return result;
}

}  // namespace sealift::bundle
