#include "cmd_push.h"

#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/flags.h"
#include "cmd_verify.h"
#include "registry/client.h"
#include "registry/credentials.h"
#include "sign/password.h"
#include "util/error.h"

namespace sealift::installer {

namespace {

struct PushFlags {
  std::string bundle;
  TrustFlags trust;
  std::string registry;
  std::string project;
  bool create_project = false;
  std::string signature_format = "both";
  ResignFlags resign;
  std::string registry_type = "auto";
  bool keep_source_host = false;
  bool dry_run = false;
  int jobs = 8;
  cli::RegistryFlags target;
  cli::OutputFlags out;
};

void print_report(const PushFlags& f, const install::VerifiedBundle& v, const install::Relocation& r,
                  const harbor::TargetKind& kind, const install::PushReport& p) {
  if (f.out.json) {
    nlohmann::ordered_json j;
    j["dryRun"] = f.dry_run;
    j["name"] = v.root.name;
    j["version"] = v.root.version;
    j["registry"] = r.registry;
    j["registryType"] = kind.harbor ? "harbor" : "oci";
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
      j["siteSignaturesAdded"] = p.site_signatures_added;
      j["siteSignaturesVerified"] = p.site_signatures_verified;
      j["attestationsListed"] = p.sboms_listed;
      j["attestationsLeftOut"] = p.referrers_left_out;
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
  if (p.site_signatures_verified)
    fmt::print("site signatures: {} added, {} verified with the --resign-key's public key\n", p.site_signatures_added,
               p.site_signatures_verified);
  if (p.sboms_listed)
    fmt::print("SBOMs and attestations: {} listed as the images' referrers in {} (`cosign verify-attestation` reads them)\n",
               p.sboms_listed, r.registry);
  if (p.referrers_left_out)
    fmt::print(stderr, "note: {} SBOM(s) and attestation(s) not pushed: --signature-format legacy pushes no referrers\n",
               p.referrers_left_out);
}

void run_push(const PushFlags& f) {
  std::optional<sign::PrivateKey> site_key = load_resign_key(f.resign, f.trust);
  sign::TrustedKeys keys = trusted_keys(f.trust);
  // Credentials first: a wrong flag should fail before minutes of hashing.
  registry::Credentials credentials = registry::resolve_credentials(
      f.registry, f.target.credentials(), registry::read_password_from_stdin, registry::process_environment());
  std::vector<std::string> harbor_only;
  if (f.create_project) harbor_only.push_back("--create-project");
  TargetRegistry target_registry = find_target_registry(f.registry, f.project, f.target.http(), credentials,
                                                        f.registry_type, harbor_only, f.out.quiet);
  note_signature_forms(target_registry.kind, f.signature_format, f.out.quiet);

  bundle::ArchiveReader reader(f.bundle);
  util::Progress progress(f.out.mode());
  install::VerifiedBundle verified =
      verify_for_command(reader, keys, f.trust, f.jobs, progress, install::VerifyScope::AllButLayers);
  install::Relocation relocation =
      install::relocate(verified.root, verified.lock, {f.registry, f.project, f.keep_source_host});
  PushTarget target{f.target.http(), credentials,
                    {f.create_project, f.dry_run, f.jobs, f.signature_format == "legacy", site_key ? &*site_key : nullptr}};
  install::PushReport report =
      push_verified(reader, verified, relocation, keys, target_registry.harbor.get(), target, progress);
  print_report(f, verified, relocation, target_registry.kind, report);
}

}  // namespace

void add_registry_type_flag(CLI::App* cmd, std::string& type) {
  cmd->add_option("--registry-type", type,
                  "What the registry is: auto (ask its API: Harbor has projects and robot accounts), harbor, or oci "
                  "(any other OCI registry)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "harbor", "oci"}));
}

TargetRegistry find_target_registry(const std::string& registry, const std::string& project,
                                    const registry::HttpOptions& http, const registry::Credentials& credentials,
                                    const std::string& type, const std::vector<std::string>& harbor_only, bool quiet,
                                    bool harbor_api) {
  TargetRegistry t;
  t.kind = harbor::detect_target(registry, http, credentials, harbor::parse_registry_type(type));
  if (t.kind.harbor) {
    if (harbor_api) t.harbor = std::make_unique<harbor::HarborApi>(registry, http, credentials);
    return t;
  }
  if (!harbor_only.empty())
    throw Error(ErrorKind::Usage,
                fmt::format("{}: Harbor only, and {} is {} ({})", fmt::join(harbor_only, ", "), registry,
                            t.kind.describe(), t.kind.evidence),
                "projects and robot accounts exist only in Harbor; on this registry, manage repositories and pull "
                "credentials with its own tools");
  if (!quiet)
    fmt::print(stderr,
               "note: {} is {} ({}): pushing with the OCI distribution API only; Harbor's project check is skipped, "
               "and --project {} is the first path segment of every repository\n",
               registry, t.kind.describe(), t.kind.evidence, project);
  return t;
}

void note_signature_forms(const harbor::TargetKind& kind, const std::string& signature_format, bool quiet) {
  if (quiet || signature_format == "legacy" || !harbor::sigstore_bundles_are_plain_accessories(kind)) return;
  fmt::print(stderr,
             "note: Harbor {} is older than 2.15: it lists the cosign v3 signatures (Sigstore bundle referrers) as "
             "plain accessories, and its cosign content trust counts only the cosign .sig signatures, which every "
             "--signature-format pushes, before the referrers (goharbor/harbor#22643)\n",
             kind.harbor_version);
}

install::PushReport push_verified(const bundle::ArchiveReader& reader, const install::VerifiedBundle& verified,
                                  const install::Relocation& relocation, const sign::TrustedKeys& keys,
                                  harbor::HarborApi* harbor, const PushTarget& target, util::Progress& progress) {
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
                  "v3) or legacy (.sig tags only). Every format pushes the .sig tags: Harbor before 2.15 counts no "
                  "other signature")
      ->capture_default_str()
      ->check(CLI::IsMember({"both", "legacy"}));
}

void add_resign_flags(CLI::App* cmd, ResignFlags& flags) {
  cmd->add_option("--resign-key", flags.key,
                  "The site's cosign.key: after the vendor's signatures are verified and pushed, sign every image and "
                  "the chart with it under its new name, in every signature form pushed (refused with "
                  "--insecure-skip-signature)");
  cmd->add_option("--resign-password-file", flags.password_file,
                  "Password file of --resign-key (default: COSIGN_PASSWORD, else a prompt)");
}

std::optional<sign::PrivateKey> load_resign_key(const ResignFlags& flags, const TrustFlags& trust) {
  if (flags.key.empty()) {
    if (!flags.password_file.empty())
      throw Error(ErrorKind::Usage, "--resign-password-file without --resign-key", "name the site's key with --resign-key");
    return std::nullopt;
  }
  // The cluster trusts the site's key: signing what --insecure-skip-signature let through would
  // launder it.
  if (trust.insecure_skip_signature)
    throw Error(ErrorKind::Usage,
                "--resign-key with --insecure-skip-signature: the site key signs only what the vendor's signature "
                "vouches for",
                "verify with the vendor's key (--key), or push without --resign-key");
  sign::Secret password = sign::read_password({flags.password_file, false});
  return sign::PrivateKey::from_file(flags.key, password);
}

void add_push_command(CLI::App& app) {
  auto f = std::make_shared<PushFlags>();
  CLI::App* cmd = app.add_subcommand(
      "push", "Verify the bundle, then push its images, signatures and chart into a Harbor project (or under a path "
              "prefix of any OCI registry), without unpacking it");
  cmd->add_option("bundle", f->bundle, "The bundle file, or its first part (.000)")->required();
  add_trust_flags(cmd, f->trust);
  cmd->add_option("--registry", f->registry, "Registry host, as the cluster reaches it (harbor.example.com)")->required();
  cmd->add_option("--project", f->project, "Harbor project to push into; on another registry, the repositories' path prefix")
      ->required();
  add_registry_type_flag(cmd, f->registry_type);
  cmd->add_flag("--create-project", f->create_project, "Create the Harbor project when it does not exist (private; Harbor only)");
  add_signature_format_flag(cmd, f->signature_format);
  add_resign_flags(cmd, f->resign);
  cmd->add_flag("--keep-source-host", f->keep_source_host,
                "Keep the source registry in the path (PROJECT/docker.io/library/postgres)");
  cmd->add_flag("--dry-run", f->dry_run, "Say what would be created and pushed; change nothing");
  cmd->add_option("-j,--jobs", f->jobs, "Parallel blob transfers")->capture_default_str()->check(CLI::Range(1, 64));
  cli::add_registry_flags(cmd, f->target, "target registry");
  cli::add_output_flags(cmd, f->out);
  cmd->callback([f] { run_push(*f); });
}

}  // namespace sealift::installer
