#include "cmd_build.h"

#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bundle/build.h"
#include "cli/flags.h"
#include "util/progress.h"

namespace sealift::bundler {

namespace {
struct BuildFlags {
  std::string chart = "chart";
  std::string lock = "images.lock";
  cli::SignerFlags signer;
  std::string output;
  std::string name;
  std::string version;
  std::vector<std::string> platforms;
  std::vector<std::string> mirrors;
  std::string cache;
  std::string base;
  std::string split_size;
  std::string include_helm;
  std::string helm_version;
  std::vector<std::string> upstream_keys;
  std::string sbom = "auto";
  std::string syft;
  bool keep_cache = false;
  int jobs = 8;
  cli::RegistryFlags registry;
  cli::OutputFlags out;
};

void run_build(const BuildFlags& f) {
  bundle::BuildOptions o;
  o.chart_dir = f.chart;
  o.lock_file = f.lock;
  o.signer = f.signer.options();
  o.output = f.output;
  o.name = f.name;
  o.version = f.version;
  for (const auto& p : f.platforms) o.platforms.push_back(oci::Platform::parse(p));
  o.mirrors = cli::parse_mappings(f.mirrors, "--mirror");
  o.cache_dir = f.cache;
  o.base = f.base;
  if (!f.split_size.empty()) o.split_size = cli::parse_size(f.split_size);
  o.include_helm = f.include_helm;
  o.helm_version = f.helm_version;
  o.upstream_keys.assign(f.upstream_keys.begin(), f.upstream_keys.end());
  static const std::map<std::string, bundle::BuildOptions::Sbom> modes = {
      {"auto", bundle::BuildOptions::Sbom::Auto},
      {"syft", bundle::BuildOptions::Sbom::Syft},
      {"upstream", bundle::BuildOptions::Sbom::Upstream},
      {"none", bundle::BuildOptions::Sbom::None}};
  o.sbom = modes.at(f.sbom);
  o.keep_cache = f.keep_cache;
  o.syft = f.syft;
  o.jobs = f.jobs;
  o.http = f.registry.http();
  o.credentials = f.registry.credentials();

  util::Progress progress(f.out.mode());
  bundle::BuildResult r = bundle::build(o, progress);
  if (f.out.json) {
    nlohmann::json j;
    std::vector<std::string> files;
    for (const auto& p : r.files) files.push_back(p.string());
    j["files"] = files;
    j["name"] = r.root.name;
    j["version"] = r.root.version;
    j["images"] = r.root.images.size();
    j["blobsWritten"] = r.blobs_written;
    j["bytesWritten"] = r.bytes_written;
    j["blobsOmitted"] = r.blobs_omitted;
    j["bytesPulled"] = r.bytes_pulled;
    j["upstreamSignatures"] = r.upstream_signatures;
    j["withoutUpstreamSignature"] = r.unsigned_upstream;
    j["sbomsGenerated"] = r.sboms_generated;
    j["sbomsFromCache"] = r.sboms_cached;
    j["syftVersion"] = r.syft_version;
    j["upstreamAttestations"] = r.upstream_attestations;
    j["notes"] = r.notes;
    nlohmann::json tools = nlohmann::json::array();
    for (const auto& t : r.root.tools)
      tools.push_back({{"name", t.name}, {"version", t.version}, {"platform", t.platform}, {"size", t.size}});
    j["tools"] = tools;
    fmt::print("{}\n", j.dump());
    return;
  }
  if (f.out.quiet) return;
  uint64_t size = 0;
  for (const auto& p : r.files) size += std::filesystem::file_size(p);
  std::string tools;
  for (const auto& t : r.root.tools) tools += fmt::format(", {} {} ({})", t.name, t.version, t.platform);
  fmt::print("bundle {} {}: {} images and the chart{}, {} blobs ({} uncompressed), {} on disk{}\n", r.root.name,
             r.root.version, r.root.images.size(), tools, r.blobs_written, util::human_bytes(r.bytes_written),
             util::human_bytes(size),
             r.root.base ? fmt::format(", delta against {} {} ({} blobs left out)", r.root.base->name,
                                       r.root.base->version, r.blobs_omitted)
                         : "");
  for (const auto& p : r.files) fmt::print("  {}\n", p.string());
  if (!f.upstream_keys.empty()) {
    fmt::print("upstream signatures: {} carried, each verified with --upstream-key\n", r.upstream_signatures);
    for (const auto& s : r.unsigned_upstream) fmt::print("  no upstream signature carried: {}\n", s);
  }
  if (r.sboms_generated || r.upstream_attestations)
    fmt::print("SBOMs: {} made by syft {} (one per platform image, signed; {} of them scanned before, from the "
               "SBOM cache), {} upstream attestation(s) carried\n",
               r.sboms_generated, r.syft_version.empty() ? "-" : r.syft_version, r.sboms_cached,
               r.upstream_attestations);
  for (const auto& n : r.notes) fmt::print(stderr, "note: {}\n", n);
}
}  // namespace

void add_build_command(CLI::App& app) {
  auto f = std::make_shared<BuildFlags>();
  CLI::App* cmd = app.add_subcommand("build", "Pull every locked image, sign images and chart, write one bundle");
  cmd->add_option("-o,--output", f->output, "Bundle file to write (e.g. ai-saas-1.0.0.tar.zst)")->required();
  cli::add_signer_flags(cmd, f->signer);
  cmd->add_option("--chart", f->chart, "Chart directory")->capture_default_str();
  cmd->add_option("--lock", f->lock, "images.lock")->capture_default_str();
  cmd->add_option("--name", f->name, "Bundle name (default: the chart's name)");
  cmd->add_option("--bundle-version", f->version, "Bundle version (default: the chart's version)");
  cmd->add_option("--platform", f->platforms, "Keep only this platform (os/arch[/variant]); repeatable");
  cmd->add_option("--mirror", f->mirrors, "Pull images of registry SRC from host DEST (SRC=DEST); repeatable");
  cmd->add_option("--cache", f->cache,
                  "Blob cache directory, yours and writable by you alone (made 0700; default "
                  "$XDG_CACHE_HOME/sealift/blobs or ~/.cache/sealift/blobs; required when HOME is unset)");
  cmd->add_flag("--keep-cache", f->keep_cache,
                "Keep every layer in the blob cache too, so that the next build downloads only what changed "
                "(default: layers stream into the bundle; the cache keeps what resuming needs)");
  cmd->add_option("--base", f->base, "Write a delta: leave out every blob this earlier bundle carries");
  cmd->add_option("--split-size", f->split_size, "Write numbered parts of at most this size (e.g. 4G)");
  cmd->add_option("--include-helm", f->include_helm,
                  "Carry this helm binary for the installer host (a 64-bit Linux executable, amd64 or arm64)");
  cmd->add_option("--helm-version", f->helm_version,
                  "Version of the --include-helm binary (needed when this host cannot run it, e.g. v3.21.4)");
  cmd->add_option("--upstream-key", f->upstream_keys,
                  "Public key of the images' publisher: carry each image's upstream Sigstore bundle signatures that "
                  "verify with it (repeatable)");
  cmd->add_option("--sbom", f->sbom,
                  "SBOMs: carry upstream attestations and SBOMs, make one with syft for images without (auto: when "
                  "syft is found; syft: required), upstream: carry only, none")
      ->check(CLI::IsMember({"auto", "syft", "upstream", "none"}))
      ->capture_default_str();
  cmd->add_option("--syft", f->syft, "The syft binary (default: syft on PATH)");
  cmd->add_option("-j,--jobs", f->jobs, "Parallel transfers")->capture_default_str()->check(CLI::Range(1, 64));
  cli::add_registry_flags(cmd, f->registry, "source registries");
  cli::add_output_flags(cmd, f->out);
  cmd->callback([f] { run_build(*f); });
}

}  // namespace sealift::bundler
