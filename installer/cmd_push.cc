#include "cmd_push.h"

#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/flags.h"
#include "cmd_verify.h"
#include "registry/client.h"
#include "registry/credentials.h"

namespace sealift::installer {

namespace {

struct PushFlags {
  std::string bundle;
  TrustFlags trust;
  std::string registry;
  std::string project;
  bool create_project = false;
  std::string signature_format = "both";
  bool keep_source_host = false;
  bool dry_run = false;
  int jobs = 8;
  cli::RegistryFlags target;
  cli::OutputFlags out;
};

void print_report(const PushFlags& f, const install::VerifiedBundle& v, const install::Relocation& r,
                  const install::PushReport& p) {
  if (f.out.json) {
    nlohmann::ordered_json j;
    j["dryRun"] = f.dry_run;
    j["name"] = v.root.name;
    j["version"] = v.root.version;
    j["registry"] = r.registry;
    j["project"] = r.project;
    j["projectCreated"] = p.project_created;
    j["images"] = nlohmann::ordered_json::array();
    for (const auto& image : r.images)
      j["images"].push_back({{"source", image.source}, {"target", image.pinned(r.registry)}, {"tag", image.tag}});
    j["chart"] = {{"repository", r.registry + "/" + r.chart.repository}, {"tag", r.chart.tag}, {"digest", r.chart.digest.str()}};
    if (f.dry_run) {
      j["plan"] = p.plan;
    } else {
      j["blobsUploaded"] = p.blobs_uploaded;
      j["blobsMounted"] = p.blobs_mounted;
      j["blobsSkipped"] = p.blobs_skipped;
      j["bytesUploaded"] = p.bytes_uploaded;
      j["manifestsPushed"] = p.manifests_pushed;
      j["tagsWritten"] = p.tags_written;
      j["tagsUnchanged"] = p.tags_unchanged;
      j["signaturesMerged"] = p.signatures_merged;
      j["signaturesVerified"] = p.signatures_verified;
      j["referrersPushed"] = p.referrers_pushed;
      j["referrersTagged"] = p.referrers_tagged;
      j["referrersVerified"] = p.referrers_verified;
    }
    fmt::print("{}\n", j.dump());
    return;
  }
  if (f.out.quiet) return;
  if (f.dry_run) {
    fmt::print("dry run: nothing was changed on {}. A push of {} {} would:\n", r.registry, v.root.name, v.root.version);
    for (const auto& line : p.plan) fmt::print("  {}\n", line);
    return;
  }
  fmt::print("pushed {} {} to {}/{}{}\n", v.root.name, v.root.version, r.registry, r.project,
             p.project_created ? " (project created)" : "");
  for (const auto& image : r.images) fmt::print("  {} -> {}\n", image.source, image.pinned(r.registry));
  fmt::print("  chart {} -> {}/{}:{}\n", v.root.chart.name, r.registry, r.chart.repository, r.chart.tag);
  fmt::print("blobs: {} uploaded ({}), {} mounted, {} already there; {} manifests pushed; tags: {} written, {} unchanged\n",
             p.blobs_uploaded, util::human_bytes(p.bytes_uploaded), p.blobs_mounted, p.blobs_skipped,
             p.manifests_pushed, p.tags_written, p.tags_unchanged);
  if (p.signatures_verified)
    fmt::print("signatures: {} verified as stored in {} (cosign v2 `.sig` form; what podman and CRI-O read)\n",
               p.signatures_verified, r.registry);
  if (p.referrers_verified)
    fmt::print("signatures: {} verified as stored in {} (Sigstore bundles as OCI referrers{}; what cosign v3 reads)\n",
               p.referrers_verified, r.registry,
               p.referrers_tagged ? fmt::format(", {} listed in referrers tags: the registry has no referrers API", p.referrers_tagged)
                                  : std::string());
}

void run_push(const PushFlags& f) {
  sign::TrustedKeys keys = trusted_keys(f.trust);
  // Credentials first: a wrong flag should fail before minutes of hashing.
  registry::Credentials credentials = registry::resolve_credentials(
      f.registry, f.target.credentials(), registry::read_password_from_stdin, registry::process_environment());
  harbor::HarborApi harbor(f.registry, f.target.http(), credentials);

  bundle::ArchiveReader reader(f.bundle);
  util::Progress progress(f.out.mode());
  install::VerifiedBundle verified =
      verify_for_command(reader, keys, f.trust, f.jobs, progress, install::VerifyScope::AllButLayers);
  install::Relocation relocation =
      install::relocate(verified.root, verified.lock, {f.registry, f.project, f.keep_source_host});
  PushTarget target{f.target.http(), credentials, {f.create_project, f.dry_run, f.jobs, f.signature_format == "legacy"}};
  install::PushReport report = push_verified(reader, verified, relocation, keys, harbor, target, progress);
  print_report(f, verified, relocation, report);
}

}  // namespace

install::PushReport push_verified(const bundle::ArchiveReader& reader, const install::VerifiedBundle& verified,
                                  const install::Relocation& relocation, const sign::TrustedKeys& keys,
                                  harbor::HarborApi& harbor, const PushTarget& target, util::Progress& progress) {
  registry::RegistryOptions ro;
  ro.http = target.http;
  ro.credentials = target.credentials;
  ro.progress = install::progress_reporter(progress);
  registry::RegistryClient client(relocation.registry, ro);
  return install::push_bundle(reader, verified, relocation, client, harbor, keys, target.options, progress);
}

void add_signature_format_flag(CLI::App* cmd, std::string& format) {
  cmd->add_option("--signature-format", format,
                  "Signatures to push: both (cosign's .sig tags and Sigstore bundle referrers, read by cosign v2 and "
                  "v3) or legacy (.sig tags only)")
      ->capture_default_str()
      ->check(CLI::IsMember({"both", "legacy"}));
}

void add_push_command(CLI::App& app) {
  auto f = std::make_shared<PushFlags>();
  CLI::App* cmd = app.add_subcommand(
      "push", "Verify the bundle, then push its images, signatures and chart into a Harbor project, without unpacking it");
  cmd->add_option("bundle", f->bundle, "The bundle file, or its first part (.000)")->required();
  add_trust_flags(cmd, f->trust);
  cmd->add_option("--registry", f->registry, "Harbor host, as the cluster reaches it (harbor.example.com)")->required();
  cmd->add_option("--project", f->project, "Harbor project to push into")->required();
  cmd->add_flag("--create-project", f->create_project, "Create the project when it does not exist (private)");
  add_signature_format_flag(cmd, f->signature_format);
  cmd->add_flag("--keep-source-host", f->keep_source_host,
                "Keep the source registry in the path (PROJECT/docker.io/library/postgres)");
  cmd->add_flag("--dry-run", f->dry_run, "Say what would be created and pushed; change nothing");
  cmd->add_option("-j,--jobs", f->jobs, "Parallel blob transfers")->capture_default_str()->check(CLI::Range(1, 64));
  cli::add_registry_flags(cmd, f->target, "Harbor");
  cli::add_output_flags(cmd, f->out);
  cmd->callback([f] { run_push(*f); });
}

}  // namespace sealift::installer
