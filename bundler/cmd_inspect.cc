#include "cmd_inspect.h"

#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bundle/summary.h"
#include "cli/flags.h"
#include "util/encoding.h"
#include "util/progress.h"

namespace sealift::bundler {

namespace {

// ", signatures listed (.sig + Sigstore bundle), not verified", or what is missing. inspect only
// sees that the entries are there; whether they verify, `sealift-install verify` says.
std::string signed_as(bool legacy, bool sigstore, int format_version) {
  if (format_version < 2) return legacy ? ", signature listed (.sig), not verified" : ", NO SIGNATURE";
  if (legacy && sigstore) return ", signatures listed (.sig + Sigstore bundle), not verified";
  if (!legacy && !sigstore) return ", NO SIGNATURE";
  return legacy ? ", signature listed (.sig), not verified, NO SIGSTORE BUNDLE"
                : ", signature listed (Sigstore bundle), not verified, NO .sig";
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

// Every string printed comes from a bundle nobody has verified: control characters are escaped
// (util::escape_controls) so that it cannot drive the terminal.
void print_text(const bundle::BundleSummary& s) {
  using util::human_bytes;
  const auto t = [](std::string_view text) { return util::escape_controls(text); };
  const bundle::Root& root = s.root;
  fmt::print("bundle {} {} (format {}, created {} by {})\n", t(root.name), t(root.version), root.format_version,
             t(root.created), t(root.tool));
  fmt::print("file: {}{}, {} on disk, {} entries\n", t(s.files.front().string()),
             s.files.size() > 1 ? fmt::format(" and {} more parts", s.files.size() - 1) : "", human_bytes(s.file_size),
             s.entries);
  fmt::print("signature: {}\n", s.root_signature ? "sealift.json.sig listed, not verified (run `sealift-install verify --key`)"
                                                 : "NONE: the bundle is unsigned");
  if (!root.platforms.empty()) fmt::print("platforms kept: {}\n", t(fmt::format("{}", fmt::join(root.platforms, ", "))));
  fmt::print("images ({}):\n", s.images.size());
  for (const auto& image : s.images) {
    fmt::print("  {}  {}  {}{}\n", t(image.source), image.digest.str(), human_bytes(image.size),
               signed_as(image.signature, image.sigstore, root.format_version));
    for (const auto& p : image.platforms) fmt::print("    {:<16} {}\n", t(p.platform), human_bytes(p.size));
    for (const auto& a : image.attestations)
      fmt::print("    {} {}{}, {} ({})\n",
                 a.vendor ? "SBOM (listed as the vendor's, not verified):" : "upstream attestation:", t(a.type),
                 a.platform.empty() ? "" : " for " + t(a.platform), human_bytes(a.size), a.digest.str());
  }
  fmt::print("chart: {} {} ({}), package {}{}\n", t(s.chart.name), t(s.chart.version), t(s.chart.reference),
             human_bytes(s.chart.package_size), signed_as(s.chart.signature, s.chart.sigstore, root.format_version));
  for (const auto& tool : root.tools)
    fmt::print("tool: {} {} for {} ({}), binary {}, for the installer host (not pushed)\n", t(tool.name),
               t(tool.version), t(tool.platform), t(tool.reference), human_bytes(static_cast<uint64_t>(tool.size)));
  fmt::print("content: images {} on their own, {} with shared layers stored once (saves {})\n",
             human_bytes(s.images_size), human_bytes(s.unique_size), human_bytes(s.shared_savings()));
  if (root.base)
    fmt::print("base: delta against {} {} (sealift.json {}); {} blobs ({}) left out, the target must hold them\n",
               t(root.base->name), t(root.base->version), root.base->root.str(), root.omitted_blobs.size(),
               human_bytes(s.omitted_size));
  else
    fmt::print("base: none (a full bundle)\n");
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto f = std::make_shared<InspectFlags>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Show what a bundle holds, without unpacking or verifying it (`sealift-install verify` checks it)");
  cmd->add_option("bundle", f->bundle, "The bundle file, or its first part (.000)")->required();
  cli::add_output_flags(cmd, f->out);
  cmd->callback([f] {
    bundle::ArchiveReader reader(f->bundle);
    bundle::BundleSummary s = bundle::summarize(reader);
    // JSON escapes control characters itself; bytes that are not UTF-8 become U+FFFD.
    if (f->out.json)
      fmt::print("{}\n", to_json(s).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
    else if (!f->out.quiet)
      print_text(s);
  });
}

}  // namespace sealift::bundler
