package policy

import (
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// refusedBlocks are refused wherever they appear, as blocks, as the label
// of a dynamic block, or (in .tf.json resource bodies) as object properties.
var refusedBlocks = map[string]string{
	"provisioner": "provisioner blocks are not allowed: they run commands on the tenantform host",
	"connection":  "connection blocks are not allowed: they make the tenantform host connect to machines for provisioners",
}

// topLevel checks the blocks of a file.
func (c *checker) topLevel(b *body) {
	for _, a := range b.attrs {
		c.report(a.line, "unexpected argument %q at the top level of the file: only blocks (resource, variable, ...) belong here", a.name)
	}
	for _, blk := range b.blocks {
		switch blk.typ {
		case "terraform":
			c.terraformBlock(blk)
		case "provider":
			if c.dir != "" {
				c.report(blk.line, "provider blocks belong in the root module: a module inherits the root's providers (pass an aliased one with providers = { aws = aws.<alias> })")
				continue
			}
			c.providerBlock(blk)
		case "resource", "data":
			c.resourceBlock(blk, 1)
		case "ephemeral":
			c.report(blk.labelLine(0), "ephemeral resources are not allowed: they open secrets and connections that no plan shows")
		case "module":
			c.moduleBlock(blk)
		case "check":
			c.checkBlock(blk)
		case "variable", "output", "locals", "moved":
			c.walkBody(blk.body, 1, false)
		case "import":
			// An import adopts an existing AWS resource, possibly another
			// project's, into this project's state, where the tenant can
			// then change or destroy it.
			c.report(blk.line, "import blocks are not allowed: they would put existing AWS resources, possibly another project's, under this project's control")
		case "removed":
			c.removedBlock(blk)
		default:
			c.report(blk.line, "%s blocks are not supported by tenantform", blk.typ)
		}
	}
}

// walkBody checks every argument and nested block of a body at depth (the
// depth of the block owning it). resource is set inside resource and data
// source bodies, where .tf.json properties may be blocks.
func (c *checker) walkBody(b *body, depth int, resource bool) {
	for _, a := range b.attrs {
		c.expr(a.expr, depth+1, resource && b.json)
	}
	for _, blk := range b.blocks {
		c.nestedBlock(blk, depth+1, resource)
	}
}

func (c *checker) nestedBlock(blk *block, depth int, resource bool) {
	if msg, refused := refusedBlocks[blk.typ]; refused {
		c.report(blk.line, "%s", msg)
		return
	}
	// dynamic "provisioner" { content { ... } } would generate the blocks.
	if msg, refused := refusedBlocks[blk.label(0)]; refused && blk.typ == "dynamic" {
		c.report(blk.labelLine(0), "dynamic %q: %s", blk.label(0), msg)
		return
	}
	if !c.enter(depth, blk.line) {
		return
	}
	c.walkBody(blk.body, depth, resource)
}

// terraformBlock allows required_version and required_providers: the
// backend is tenantform's, and nothing else in the block is a tenant's to
// set.
func (c *checker) terraformBlock(blk *block) {
	for _, a := range blk.body.attrs {
		if a.name == "required_version" {
			c.expr(a.expr, 2, false)
			continue
		}
		c.report(a.line, "%s may not be set in the terraform block: only required_version and required_providers may", a.name)
	}
	for _, nested := range blk.body.blocks {
		switch nested.typ {
		case "backend":
			c.report(nested.labelLine(0), "terraform { backend %q } is not allowed: tenantform keeps each project's state in its own backend", nested.label(0))
		case "cloud":
			c.report(nested.line, "terraform { cloud } is not allowed: tenantform keeps each project's state in its own backend")
		case "required_providers":
			c.requiredProviders(nested)
		default:
			c.report(nested.line, "%s blocks are not allowed in the terraform block", nested.typ)
		}
	}
}

// requiredProviders allows only the allowed providers, from HashiCorp's
// registry namespace: a provider is a plugin that runs on the tenantform
// host, so its source matters as much as its name.
func (c *checker) requiredProviders(blk *block) {
	for _, a := range blk.body.attrs {
		if !slices.Contains(c.rules.AllowedProviders, a.name) {
			c.report(a.line, "provider %q is not allowed: tenantform projects may use %s", a.name, c.providerList())
			continue
		}
		if v := awsVersion(a.expr); v != "" {
			c.providerVersionCheck(a.name, v, a.line)
		}
		fields, isObject := c.objectFields(a.expr)
		if !isObject {
			continue // a bare version constraint: the source is hashicorp/<name>
		}
		srcExpr, ok := fields["source"]
		if !ok {
			continue
		}
		want := "hashicorp/" + a.name
		src, literal := c.literalString(srcExpr)
		switch {
		case !literal:
			c.report(a.line, "the source of provider %q must be a literal string (%q)", a.name, want)
		case normalizeSource(src) != want:
			c.report(a.line, "provider %q must come from %q, not %s: providers are plugins that run on the tenantform host", a.name, want, describe(src))
		}
	}
	for _, nested := range blk.body.blocks {
		c.report(nested.line, "unexpected %s block in required_providers", nested.typ)
	}
}

// normalizeSource drops the default registry host, which may be spelled out.
func normalizeSource(src string) string {
	src = strings.ToLower(strings.TrimSpace(src))
	return strings.TrimPrefix(src, "registry.terraform.io/")
}

func (c *checker) providerList() string {
	if len(c.rules.AllowedProviders) == 0 {
		return "no provider"
	}
	return strings.Join(c.rules.AllowedProviders, ", ")
}

// objectFields returns the fields of an object value of either syntax,
// by name.
func (c *checker) objectFields(e hcl.Expression) (map[string]hcl.Expression, bool) {
	return fieldsOf(e)
}

// fieldsOf returns the fields of an object value of either syntax, by
// name.
func fieldsOf(e hcl.Expression) (map[string]hcl.Expression, bool) {
	if obj, ok := e.(*hclsyntax.ObjectConsExpr); ok {
		fields := map[string]hcl.Expression{}
		for _, item := range obj.Items {
			key := item.KeyExpr
			if k, ok := key.(*hclsyntax.ObjectConsKeyExpr); ok {
				key = k.Wrapped
			}
			name := hcl.ExprAsKeyword(key)
			if name == "" {
				name, _ = literalOf(key)
			}
			fields[name] = item.ValueExpr
		}
		return fields, true
	}
	items, ok := jsonObject(e)
	if !ok {
		return nil, false
	}
	fields := map[string]hcl.Expression{}
	for _, kv := range items {
		name, _ := jsonString(kv.Key)
		fields[name] = kv.Value
	}
	return fields, true
}

// providerArgs are the only arguments a tenant's provider block may set.
// Everything else about a provider (credentials, endpoints, account and
// region checks) is tenantform's: it must hold for every project. A
// tenant's default_tags are merged beneath the platform's tags.
var providerArgs = map[string][]string{
	"aws": {"alias", "region", "default_tags"},
}

var defaultProviderArgs = []string{"alias"}

var credentialArgs = map[string]bool{
	"access_key": true, "secret_key": true, "token": true, "profile": true,
	"shared_config_files": true, "shared_credentials_files": true,
	"assume_role": true, "assume_role_with_web_identity": true,
	"ec2_metadata_service_endpoint": true, "ec2_metadata_service_endpoint_mode": true,
	"allowed_account_ids": true, "forbidden_account_ids": true,
	"token_bucket_rate_limiter_capacity": true,
}

var endpointArgs = map[string]bool{
	"endpoints": true, "custom_ca_bundle": true, "insecure": true,
	"http_proxy": true, "https_proxy": true, "no_proxy": true,
	"sts_region": true, "use_fips_endpoint": true, "use_dualstack_endpoint": true,
	"s3_use_path_style": true, "s3_us_east_1_regional_endpoint": true,
}

func (c *checker) providerBlock(blk *block) {
	name := blk.label(0)
	if !slices.Contains(c.rules.AllowedProviders, name) {
		c.report(blk.labelLine(0), "provider %q is not allowed: tenantform projects may use %s", name, c.providerList())
		return
	}
	allowed, ok := providerArgs[name]
	if !ok {
		allowed = defaultProviderArgs
	}
	for _, a := range blk.body.attrs {
		if !slices.Contains(allowed, a.name) {
			c.providerArg(name, a.name, a.line, allowed)
			continue
		}
		switch a.name {
		case "region":
			c.region(a, "the provider's region")
		case "default_tags":
			// .tf.json: a property, not a block (see providerShape).
			c.report(a.line, "default_tags must be an object with a tags argument")
			continue
		}
		c.expr(a.expr, 2, false)
	}
	for _, nested := range blk.body.blocks {
		if nested.typ == "default_tags" && slices.Contains(allowed, "default_tags") {
			c.defaultTags(nested)
			continue
		}
		c.providerArg(name, nested.typ, nested.line, allowed)
	}
}

func (c *checker) providerArg(provider, arg string, line int, allowed []string) {
	switch {
	case credentialArgs[arg]:
		c.report(line, "provider %q may not set %s: tenantform gives each project its own short-lived credentials", provider, arg)
	case endpointArgs[arg]:
		c.report(line, "provider %q may not set %s: API calls must reach AWS the way tenantform configures it", provider, arg)
	case strings.HasPrefix(arg, "skip_"):
		c.report(line, "provider %q may not set %s: the provider's credential, account and region checks stay on", provider, arg)
	case arg == "ignore_tags":
		c.report(line, "provider %q may not set ignore_tags: it would hide changes to the platform's tags", provider)
	default:
		c.report(line, "provider %q may not set %s: only %s may be set", provider, arg, strings.Join(allowed, " and "))
	}
}

// region checks a region argument: a provider's region must be a literal,
// since a variable or a function could name any region; a resource's may be
// computed, and the plan check sees its value.
func (c *checker) region(a *attribute, what string) {
	region, literal := c.literalString(a.expr)
	switch {
	case !literal && what == "the provider's region":
		c.report(a.line, "the provider's region must be a literal string such as %q: a computed region could be any region", firstOr(c.rules.AllowedRegions, "us-east-1"))
	case !literal:
	case len(c.rules.AllowedRegions) == 0:
		c.report(a.line, "%s %s is not allowed: no region may be chosen here", what, describe(region))
	case !slices.Contains(c.rules.AllowedRegions, region):
		c.report(a.line, "%s %s is not allowed: use one of %s", what, describe(region), strings.Join(c.rules.AllowedRegions, ", "))
	}
}

func firstOr(list []string, fallback string) string {
	if len(list) > 0 {
		return list[0]
	}
	return fallback
}

var kindNouns = map[string]string{
	"resource": "resource type",
	"data":     "data source",
}

// resourceBlock checks a resource or data source at depth (1 at the top
// level, 2 inside a check block).
func (c *checker) resourceBlock(blk *block, depth int) {
	kind, typ := blk.typ, blk.label(0)
	if reason := c.typeRefusal(kind, typ); reason != "" {
		c.report(blk.labelLine(0), "%s %q is not allowed: %s", kindNouns[kind], typ, reason)
	}
	c.walkBody(blk.body, depth, true)
	c.resourceProvider(blk.body)
	c.lifecycle(blk)
	c.repetition(blk)
	if kind == "data" && typ == "aws_iam_policy_document" {
		c.policyDocumentData(blk.body)
	}
	if kind == "resource" {
		c.iamDocuments(typ, blk.body)
		c.resourceTags(typ, blk.body)
		c.resourceRegions(typ, blk.body)
		c.ownedReferences(typ, blk.body)
	}
	switch {
	case typ == "archive_file":
		c.archiveFile(blk.body)
	case kind == "resource" && uploadArgs[typ] != "":
		c.uploadPath(typ, blk.body)
	}
}

// typeRefusal says why a resource or data source type is refused, or "".
func (c *checker) typeRefusal(kind, typ string) string {
	if why, refused := alwaysRefused[typ]; refused {
		return why
	}
	list, hint := c.rules.AllowedResourceTypes, "it is not on tenantform's list of allowed resource types"
	if kind == "data" {
		list, hint = c.rules.AllowedDataSources, dataSourceHint
	}
	if why, ok := typeHints[typ]; ok {
		hint = why
	}
	if typ == "" || matchesAny(c.rules.DeniedResourceTypes, typ) || !matchesAny(list, typ) {
		return hint
	}
	return ""
}

// matchesAny matches typ against names and "prefix*" patterns.
func matchesAny(patterns []string, typ string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(typ, prefix) {
				return true
			}
		} else if p == typ {
			return true
		}
	}
	return false
}

// resourceProvider checks the provider meta-argument: a resource may only
// use a configuration of an allowed provider.
func (c *checker) resourceProvider(b *body) {
	a := b.attr("provider")
	if a == nil {
		return
	}
	t, diags := hcl.AbsTraversalForExpr(a.expr)
	if diags.HasErrors() {
		c.report(a.line, "provider must be a reference such as aws.west")
		return
	}
	if name := t.RootName(); !slices.Contains(c.rules.AllowedProviders, name) {
		c.report(a.line, "provider %q is not allowed: tenantform projects may use %s", name, c.providerList())
	}
}

// checkBlock walks a check block, whose scoped data sources follow the
// same type rules as top-level ones.
func (c *checker) checkBlock(blk *block) {
	for _, a := range blk.body.attrs {
		c.expr(a.expr, 2, false)
	}
	for _, nested := range blk.body.blocks {
		if nested.typ == "data" {
			c.resourceBlock(nested, 2)
			continue
		}
		c.nestedBlock(nested, 2, false)
	}
}

// moduleBlock accepts local modules inside the submission, which are
// checked like the root module (their files are part of it), and the
// sources in AllowedModuleSources. A remote module (registry, git, HTTP,
// S3) would bring configuration that this check never sees.
func (c *checker) moduleBlock(blk *block) {
	c.walkBody(blk.body, 1, false)
	a := blk.body.attr("source")
	if a == nil {
		c.report(blk.line, "module %q has no source", blk.label(0))
		return
	}
	src, literal := c.literalString(a.expr)
	switch {
	case !literal:
		c.report(a.line, "a module source must be a literal string")
	case slices.Contains(c.rules.AllowedModuleSources, src):
	case isLocalSource(src):
		target, inside := resolve(c.dir, src)
		switch {
		case !inside || strings.HasPrefix(src, "/"):
			c.report(a.line, "module source %s is not allowed: a local module must be a directory of the project, such as \"./modules/api\"", describe(src))
		case target == "":
			c.report(a.line, "module source %s is not allowed: a module cannot call the root module", describe(src))
		case target == c.dir:
			c.report(a.line, "module source %s is not allowed: a module cannot call its own directory", describe(src))
		case !c.project.modules[target]:
			c.report(a.line, "module source %s names no directory of the project holding .tf or .tf.json files", describe(src))
		}
	default:
		c.report(a.line, "module source %s is not allowed: modules from registries, git, HTTP or S3 would run configuration that tenantform has not checked; submit the module's files in a directory and use source = \"./<dir>\"", describe(src))
	}
}
