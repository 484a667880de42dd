#include "bundle/summary.h"

#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bundle/layout.h"
#include "oci/manifest.h"
#include "ref/reference.h"
#include "sbom/syft.h"
#include "sign/sigstore_bundle.h"
#include "util/error.h"

namespace sealift::bundle {

namespace {

class Summarizer {
 public:
  explicit Summarizer(const ArchiveReader& reader) : reader_(reader) {}

  BundleSummary run() {
    BundleSummary s;
    s.root = Root::parse(reader_.read_small(kRootFile));
    s.files = reader_.file().paths();
    for (const auto& p : s.files) s.file_size += std::filesystem::file_size(p);
    s.entries = reader_.entries().size();
    s.root_signature = reader_.find(kRootSignatureFile) != nullptr;
    auto entries = parse_index_json(reader_.read_small(kIndexFile));
    std::set<std::string> signatures;
    for (const auto& e : entries)
      if ((e.kind == EntryKind::Signature || e.kind == EntryKind::Referrer) && reader_.find(blob_path(e.descriptor.digest)))
        signatures.insert(e.reference);

    std::map<oci::Digest, uint64_t> all;  // every config and layer of every image
    for (const auto& image : s.root.images) {
      ImageSummary out{image.source, image.digest, image.media_type, {}, 0, false, false, {}};
      std::string name = ref::Reference::parse(image.source).name();
      out.signature = signatures.count(name + ":" + image.digest.tag_form() + ".sig") > 0;
      out.sigstore = !image.referrer.empty() && signatures.count(name + "@" + image.referrer.str()) > 0;
      for (const auto* list : {&image.sboms, &image.upstream_attestations})
        for (const auto& d : *list) {
          AttestationSummary a{d, list == &image.sboms, "", "", 0};
          oci::Manifest m = manifest(d, oci::media::kOciManifest);
          a.type = sign::announced_predicate_type(m);
          if (a.type.empty()) a.type = m.artifact_type();
          if (auto it = m.annotations().find(std::string(sbom::kPlatformAnnotation)); it != m.annotations().end())
            a.platform = it->second;
          for (const auto& l : m.layers()) a.size += static_cast<uint64_t>(l.size);
          out.attestations.push_back(a);
        }
      std::map<oci::Digest, uint64_t> own;
      oci::Manifest top = manifest(image.digest, image.media_type);
      if (top.is_index()) {
        for (const auto& d : top.manifests())
          out.platforms.push_back(platform(manifest(d.digest, d.media_type), d, own));
      } else {
        out.platforms.push_back(platform(top, top.descriptor(), own));
      }
      for (const auto& [digest, size] : own) {
        out.size += size;
        all[digest] = size;
      }
      s.images_size += out.size;
      s.images.push_back(std::move(out));
    }
    for (const auto& [digest, size] : all) s.unique_size += size;

    const RootChart& chart = s.root.chart;
    s.chart = {chart.name, chart.version, chart.reference, 0, false};
    oci::Manifest chart_manifest = manifest(chart.manifest, oci::media::kOciManifest);
    for (const auto& l : chart_manifest.layers())
      if (l.digest == chart.package) s.chart.package_size = static_cast<uint64_t>(l.size);
    std::string chart_repository = chart.reference.substr(0, chart.reference.rfind(':'));
    s.chart.signature = signatures.count(chart_repository + ":" + chart.manifest.tag_form() + ".sig") > 0;
    s.chart.sigstore = !chart.referrer.empty() && signatures.count(chart_repository + "@" + chart.referrer.str()) > 0;

    std::set<oci::Digest> omitted(s.root.omitted_blobs.begin(), s.root.omitted_blobs.end());
    all[chart.package] = s.chart.package_size;
    for (const auto& t : s.root.tools) all[t.binary] = static_cast<uint64_t>(t.size);
    for (const auto& [digest, size] : all) (omitted.count(digest) ? s.omitted_size : s.carried_size) += size;
    return s;
  }

 private:
  oci::Manifest manifest(const oci::Digest& digest, const std::string_view media_type) {
    std::string path = blob_path(digest);
    if (!reader_.find(path))
      throw Error(ErrorKind::Input, fmt::format("{}: manifest {} is missing", reader_.file().name().string(), digest.str()));
    return oci::Manifest::parse(reader_.read_small(path), media_type);
  }

  // The platform from the index entry, else from the image's config.
  PlatformSummary platform(const oci::Manifest& m, const oci::Descriptor& d, std::map<oci::Digest, uint64_t>& own) {
    PlatformSummary p{"unknown", m.digest(), 0};
    if (d.platform) {
      p.platform = d.platform->str();
    } else if (reader_.find(blob_path(m.config().digest))) {
      auto config = nlohmann::json::parse(reader_.read_small(blob_path(m.config().digest)), nullptr, false);
      auto field = [&](const char* key) {
        return config.is_object() && config.contains(key) && config[key].is_string() ? config[key].get<std::string>()
                                                                                     : std::string();
      };
      if (!field("os").empty() && !field("architecture").empty()) {
        // fmt, not operator+: gcc 12 -O3 warns a false -Wrestrict on the concatenation.
        p.platform = field("variant").empty() ? fmt::format("{}/{}", field("os"), field("architecture"))
                                              : fmt::format("{}/{}/{}", field("os"), field("architecture"), field("variant"));
      }
    }
    for (const auto& b : m.children()) {
      p.size += static_cast<uint64_t>(b.size);
      own[b.digest] = static_cast<uint64_t>(b.size);
    }
    return p;
  }

  const ArchiveReader& reader_;
};

}  // namespace

BundleSummary summarize(const ArchiveReader& reader) { return Summarizer(reader).run(); }

}  // namespace sealift::bundle
