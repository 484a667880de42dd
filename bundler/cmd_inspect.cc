#include "cmd_inspect.h"

#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bundle/summary.h"
#include "cli/flags.h"
#include "util/progress.h"

namespace sealift::bundler {

namespace {

// ", signed (.sig + Sigstore bundle)", or what is missing.
std::string signed_as(bool legacy, bool sigstore, int format_version) {
  if (format_version < 2) return legacy ? ", signed (.sig)" : ", NO SIGNATURE";
  if (legacy && sigstore) return ", signed (.sig + Sigstore bundle)";
  if (!legacy && !sigstore) return ", NO SIGNATURE";
  return legacy ? ", signed (.sig), NO SIGSTORE BUNDLE" : ", signed (Sigstore bundle), NO .sig";
}

struct InspectFlags {
  std::string bundle;
  cli::OutputFlags out;
};

nlohmann::ordered_json to_json(const bundle::BundleSummary& s) {
  const bundle::Root& root = s.root;
  nlohmann::ordered_json j;
  j["name"] = root.name;
  j["version"] = root.version;
  j["created"] = root.created;
  j["tool"] = root.tool;
  j["formatVersion"] = root.format_version;
  std::vector<std::string> files;
  for (const auto& p : s.files) files.push_back(p.string());
  j["files"] = files;
  j["fileSize"] = s.file_size;
  j["entries"] = s.entries;
  j["signed"] = s.root_signature;
  j["platforms"] = root.platforms;
  j["images"] = nlohmann::ordered_json::array();
  for (const auto& image : s.images) {
    nlohmann::ordered_json platforms = nlohmann::ordered_json::array();
    for (const auto& p : image.platforms)
      platforms.push_back({{"platform", p.platform}, {"digest", p.digest.str()}, {"size", p.size}});
    nlohmann::ordered_json attestations = nlohmann::ordered_json::array();
    for (const auto& a : image.attestations)
      attestations.push_back({{"digest", a.digest.str()},
                              {"by", a.vendor ? "vendor" : "upstream"},
                              {"type", a.type},
                              {"platform", a.platform},
                              {"size", a.size}});
    j["images"].push_back({{"source", image.source},
                           {"digest", image.digest.str()},
                           {"mediaType", image.media_type},
                           {"size", image.size},
                           {"signature", image.signature},
                           {"sigstoreBundle", image.sigstore},
                           {"platforms", platforms},
                           {"attestations", attestations}});
  }
  j["chart"] = {{"name", s.chart.name},
                {"version", s.chart.version},
                {"reference", s.chart.reference},
                {"digest", root.chart.manifest.str()},
                {"packageSize", s.chart.package_size},
                {"signature", s.chart.signature},
                {"sigstoreBundle", s.chart.sigstore}};
  j["tools"] = nlohmann::ordered_json::array();
  for (const auto& t : root.tools)
    j["tools"].push_back({{"name", t.name},
                          {"version", t.version},
                          {"platform", t.platform},
                          {"reference", t.reference},
                          {"digest", t.manifest.str()},
                          {"binary", t.binary.str()},
                          {"size", t.size}});
  j["imagesSize"] = s.images_size;
  j["uniqueSize"] = s.unique_size;
  j["sharedLayerSavings"] = s.shared_savings();
  j["carriedSize"] = s.carried_size;
  if (root.base) {
    j["base"] = {{"name", root.base->name},
                 {"version", root.base->version},
                 {"root", root.base->root.str()},
                 {"omittedBlobs", root.omitted_blobs.size()},
                 {"omittedSize", s.omitted_size}};
  } else {
    j["base"] = nullptr;
  }
  return j;
}

void print_text(const bundle::BundleSummary& s) {
  using util::human_bytes;
  const bundle::Root& root = s.root;
  fmt::print("bundle {} {} (format {}, created {} by {})\n", root.name, root.version, root.format_version, root.created,
             root.tool);
  fmt::print("file: {}{}, {} on disk, {} entries\n", s.files.front().string(),
             s.files.size() > 1 ? fmt::format(" and {} more parts", s.files.size() - 1) : "", human_bytes(s.file_size),
             s.entries);
  fmt::print("signature: {}\n", s.root_signature ? "sealift.json.sig present (check it with `sealift-install verify --key`)"
                                                 : "NONE: the bundle is unsigned");
  if (!root.platforms.empty()) fmt::print("platforms kept: {}\n", fmt::join(root.platforms, ", "));
  fmt::print("images ({}):\n", s.images.size());
  for (const auto& image : s.images) {
    fmt::print("  {}  {}  {}{}\n", image.source, image.digest.str(), human_bytes(image.size),
               signed_as(image.signature, image.sigstore, root.format_version));
    for (const auto& p : image.platforms) fmt::print("    {:<16} {}\n", p.platform, human_bytes(p.size));
    for (const auto& a : image.attestations)
      fmt::print("    {} {}{}, {} ({})\n", a.vendor ? "SBOM (signed by the vendor):" : "upstream attestation:", a.type,
                 a.platform.empty() ? "" : " for " + a.platform, human_bytes(a.size), a.digest.str());
  }
  fmt::print("chart: {} {} ({}), package {}{}\n", s.chart.name, s.chart.version, s.chart.reference,
             human_bytes(s.chart.package_size), signed_as(s.chart.signature, s.chart.sigstore, root.format_version));
  for (const auto& t : root.tools)
    fmt::print("tool: {} {} for {} ({}), binary {}, for the installer host (not pushed)\n", t.name, t.version,
               t.platform, t.reference, human_bytes(static_cast<uint64_t>(t.size)));
  fmt::print("content: images {} on their own, {} with shared layers stored once (saves {})\n",
             human_bytes(s.images_size), human_bytes(s.unique_size), human_bytes(s.shared_savings()));
  if (root.base)
    fmt::print("base: delta against {} {} (sealift.json {}); {} blobs ({}) left out, the target must hold them\n",
               root.base->name, root.base->version, root.base->root.str(), root.omitted_blobs.size(),
               human_bytes(s.omitted_size));
  else
    fmt::print("base: none (a full bundle)\n");
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto f = std::make_shared<InspectFlags>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show what a bundle holds, without unpacking or verifying it");
  cmd->add_option("bundle", f->bundle, "The bundle file, or its first part (.000)")->required();
  cli::add_output_flags(cmd, f->out);
  cmd->callback([f] {
    bundle::ArchiveReader reader(f->bundle);
    bundle::BundleSummary s = bundle::summarize(reader);
    if (f->out.json)
      fmt::print("{}\n", to_json(s).dump());
    else if (!f->out.quiet)
      print_text(s);
  });
}

}  // namespace sealift::bundler
