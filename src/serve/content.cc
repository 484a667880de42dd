#include "serve/content.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bundle/layout.h"
#include "ref/reference.h"
#include "serve/route.h"
#include "sign/sigmanifest.h"
#include "util/error.h"

namespace sealift::serve {

namespace {

using bundle::EntryKind;
using install::BundleObject;

constexpr std::string_view kJson = "application/json";

Answer refusal(const Refusal& r) {
  Answer a;
  a.status = r.status;
  a.headers.emplace_back("Content-Type", kJson);
  a.body = error_body(r.code, r.message);
  return a;
}

// A page of a sorted list after `last`, at most n entries when n is given (the distribution API's
// pagination), with the Link to the next page when there is more.
struct Page {
  std::vector<std::string> items;
  bool more = false;
};

std::optional<Page> page(const std::vector<std::string>& sorted, const Request& r) {
  auto it = r.last.empty() ? sorted.begin() : std::upper_bound(sorted.begin(), sorted.end(), r.last);
  size_t limit = sorted.size();
  if (r.has_n) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(r.n.data(), r.n.data() + r.n.size(), n);
    if (ec != std::errc() || end != r.n.data() + r.n.size()) return std::nullopt;
    limit = static_cast<size_t>(std::min<uint64_t>(n, sorted.size()));
  }
  Page p;
  for (; it != sorted.end() && p.items.size() < limit; ++it) p.items.push_back(*it);
  p.more = it != sorted.end();
  return p;
}

void link_next(Answer& a, const std::string& path, const Page& p, const Request& r) {
  if (!p.more || p.items.empty()) return;
  a.headers.emplace_back("Link", fmt::format("<{}?last={}&n={}>; rel=\"next\"", path, p.items.back(), r.n));
}

std::string referrers_index(const std::vector<oci::Descriptor>& referrers) {
  // The form push writes into a referrers tag (OCI distribution 1.1, referrers tag schema).
  nlohmann::ordered_json index = {
      {"schemaVersion", 2}, {"mediaType", oci::media::kOciIndex}, {"manifests", nlohmann::ordered_json::array()}};
  for (const auto& d : referrers) index["manifests"].push_back(d.to_json());
  return index.dump();
}

}  // namespace

ServedBundle::ServedBundle(const bundle::ArchiveReader& reader, const install::VerifiedBundle& bundle,
                           const install::Relocation& relocation)
    : reader_(reader), bundle_(bundle) {
  if (!bundle.omitted.empty()) {
    const auto& base = *bundle.root.base;
    throw Error(ErrorKind::Usage,
                fmt::format("{} {} is a delta against {} {}: it leaves out {} blobs its base carries, so it cannot be "
                            "served alone",
                            bundle.root.name, bundle.root.version, base.name, base.version, bundle.omitted.size()),
                "serve a full bundle (build it without --base)");
  }
  for (const auto& image : relocation.images) {
    std::string source_name = ref::Reference::parse(image.source).name();
    std::vector<const BundleObject*> referrers;
    for (const auto& ri : bundle.root.images) {
      if (ri.source != image.source) continue;
      if (!ri.referrer.empty()) referrers.push_back(&bundle.object(EntryKind::Referrer, source_name + "@" + ri.referrer.str()));
      for (const auto* list : {&ri.upstream_signatures, &ri.sboms, &ri.upstream_attestations})
        for (const auto& u : *list) referrers.push_back(&bundle.object(EntryKind::Referrer, source_name + "@" + u.str()));
    }
    add(image.repository, image.tag, bundle.object(EntryKind::Image, image.source),
        bundle.object(EntryKind::Signature, source_name + ":" + image.digest.tag_form() + ".sig"), referrers);
  }
  const auto& chart = bundle.root.chart;
  std::string chart_name = chart.reference.substr(0, chart.reference.rfind(':'));
  std::vector<const BundleObject*> referrers;
  if (!chart.referrer.empty()) referrers.push_back(&bundle.object(EntryKind::Referrer, chart_name + "@" + chart.referrer.str()));
  add(relocation.chart.repository, relocation.chart.tag, bundle.object(EntryKind::Chart, chart.reference),
      bundle.object(EntryKind::Signature, chart_name + ":" + chart.manifest.tag_form() + ".sig"), referrers);
}

void ServedBundle::add_object(Repository& repo, const BundleObject& object) {
  for (const auto& d : object.manifests) {
    repo.manifests[d.digest] = d.media_type;
    repo.blobs[d.digest] = static_cast<uint64_t>(d.size);
    if (manifest_bytes_.count(d.digest)) continue;
    std::string bytes = reader_.read_small(bundle::blob_path(d.digest));
    // Verified before; checked again because these bytes are kept and served for the server's life.
    if (oci::Digest::of(bytes) != d.digest)
      throw Error(ErrorKind::Integrity, fmt::format("{}: content changed since it was verified", bundle::blob_path(d.digest)));
    manifest_bytes_.emplace(d.digest, std::move(bytes));
  }
  for (const auto& b : object.blobs)
    if (bundle_.carried.count(b.digest)) repo.blobs[b.digest] = static_cast<uint64_t>(b.size);
}

void ServedBundle::add(const std::string& repository, const std::string& tag, const BundleObject& object,
                       const BundleObject& signature, const std::vector<const BundleObject*>& referrers) {
  Repository& repo = repositories_[repository];
  const oci::Digest& subject = object.entry.descriptor.digest;
  add_object(repo, object);
  repo.tags[tag] = subject;
  add_object(repo, signature);
  repo.tags[sign::signature_tag(subject)] = signature.entry.descriptor.digest;
  if (referrers.empty()) return;
  auto& listed = repo.referrers[subject];
  for (const BundleObject* r : referrers) {
    add_object(repo, *r);
    const oci::Descriptor& d = r->entry.descriptor;
    oci::Manifest m = oci::Manifest::parse(manifest_bytes_.at(d.digest), d.media_type);
    oci::Descriptor entry = m.descriptor();
    // OCI 1.1: a manifest without artifactType is typed by its config's media type.
    entry.artifact_type = m.artifact_type().empty() ? m.config().media_type : m.artifact_type();
    entry.annotations = m.annotations();
    if (std::none_of(listed.begin(), listed.end(), [&](const oci::Descriptor& x) { return x.digest == entry.digest; }))
      listed.push_back(entry);
  }
  std::string index = referrers_index(listed);
  oci::Digest digest = oci::Digest::of(index);
  repo.manifests[digest] = std::string(oci::media::kOciIndex);
  manifest_bytes_[digest] = std::move(index);
  repo.tags[subject.tag_form()] = digest;
}

std::map<std::string, std::vector<std::string>> ServedBundle::listing() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, repo] : repositories_)
    for (const auto& [tag, digest] : repo.tags) out[name].push_back(tag);
  return out;
}

Answer ServedBundle::answer(const Request& request) const {
  auto routed = route(request.method, request.path);
  if (auto* r = std::get_if<Refusal>(&routed)) return refusal(*r);
  const Route& route = std::get<Route>(routed);
  Answer a;
  if (route.endpoint == Endpoint::Base) {
    a.headers.emplace_back("Content-Type", kJson);
    a.body = "{}";
    return a;
  }
  if (route.endpoint == Endpoint::Catalog) {
    std::vector<std::string> names;
    for (const auto& [name, repo] : repositories_) names.push_back(name);
    auto p = page(names, request);
    if (!p) return refusal({400, "PAGINATION_NUMBER_INVALID", "n must be a non-negative number"});
    a.headers.emplace_back("Content-Type", kJson);
    a.body = nlohmann::json{{"repositories", p->items}}.dump();
    link_next(a, "/v2/_catalog", *p, request);
    return a;
  }
  auto found = repositories_.find(route.name);
  if (found == repositories_.end())
    return refusal({404, "NAME_UNKNOWN", fmt::format("repository {} is not in this bundle", route.name)});
  const Repository& repo = found->second;

  switch (route.endpoint) {
    case Endpoint::Tags: {
      std::vector<std::string> tags;
      for (const auto& [tag, digest] : repo.tags) tags.push_back(tag);
      auto p = page(tags, request);
      if (!p) return refusal({400, "PAGINATION_NUMBER_INVALID", "n must be a non-negative number"});
      a.headers.emplace_back("Content-Type", kJson);
      a.body = nlohmann::json{{"name", route.name}, {"tags", p->items}}.dump();
      link_next(a, fmt::format("/v2/{}/tags/list", route.name), *p, request);
      return a;
    }
    case Endpoint::Manifest: {
      oci::Digest digest;
      if (oci::Digest::valid(route.reference)) {
        digest = oci::Digest::parse(route.reference);
      } else {
        auto tag = repo.tags.find(route.reference);
        if (tag == repo.tags.end())
          return refusal({404, "MANIFEST_UNKNOWN", fmt::format("{} has no tag {}", route.name, route.reference)});
        digest = tag->second;
      }
      auto m = repo.manifests.find(digest);
      if (m == repo.manifests.end())
        return refusal({404, "MANIFEST_UNKNOWN", fmt::format("{} has no manifest {}", route.name, digest.str())});
      a.headers.emplace_back("Content-Type", m->second);
      a.headers.emplace_back("Docker-Content-Digest", digest.str());
      a.static_body = &manifest_bytes_.at(digest);
      return a;
    }
    case Endpoint::Blob: {
      oci::Digest digest = oci::Digest::parse(route.reference);
      auto b = repo.blobs.find(digest);
      if (b == repo.blobs.end())
        return refusal({404, "BLOB_UNKNOWN", fmt::format("{} has no blob {}", route.name, digest.str())});
      const uint64_t size = b->second;
      ByteRange range = parse_range(request.range, size);
      if (range.kind == ByteRange::Kind::Unsatisfiable) {
        a = refusal({416, "BLOB_UNKNOWN", fmt::format("range {} is outside the blob's {} bytes", request.range, size)});
        a.headers.emplace_back("Content-Range", fmt::format("bytes */{}", size));
        return a;
      }
      a.headers.emplace_back("Content-Type", "application/octet-stream");
      a.headers.emplace_back("Docker-Content-Digest", digest.str());
      a.headers.emplace_back("Accept-Ranges", "bytes");
      if (range.kind == ByteRange::Kind::Partial) {
        a.status = 206;
        a.headers.emplace_back("Content-Range",
                               fmt::format("bytes {}-{}/{}", range.offset, range.offset + range.length - 1, size));
      }
      a.entry = bundle::blob_path(digest);
      a.offset = range.offset;
      a.length = range.length;
      return a;
    }
    case Endpoint::Referrers: {
      oci::Digest subject = oci::Digest::parse(route.reference);
      std::vector<oci::Descriptor> listed;
      // An unknown subject has no referrers: an empty index, never 404 (OCI distribution 1.1).
      if (auto it = repo.referrers.find(subject); it != repo.referrers.end())
        for (const auto& d : it->second)
          if (request.artifact_type.empty() || d.artifact_type == request.artifact_type) listed.push_back(d);
      a.headers.emplace_back("Content-Type", oci::media::kOciIndex);
      if (!request.artifact_type.empty()) a.headers.emplace_back("OCI-Filters-Applied", "artifactType");
      a.body = referrers_index(listed);
      return a;
    }
    case Endpoint::Base:
    case Endpoint::Catalog:
      break;
  }
  throw Error(ErrorKind::Internal, "unrouted request");
}

}  // namespace sealift::serve
