# `sam build` runs `make build-<LogicalId>` here for each function of
# template.yaml (BuildMethod: makefile, build_in_source in samconfig.toml), with
# ARTIFACTS_DIR naming the folder whose `bootstrap` becomes the function's code.
#
# Every function is built with the `function` profile of Cargo.toml (size over
# peak speed, panic = abort): the binaries docs/benchmarks.md measures. Each
# binary is a crate of functions/ whose main calls the wiring in infra/lambda.
# ARCH_FLAG is `--arm64` for the template's Architectures; `make ARCH_FLAG=`
# builds for x86_64.

CARGO_LAMBDA ?= cargo lambda
ARCH_FLAG ?= --arm64

# $(call function,BINARY): build one workspace binary and hand its bootstrap to SAM.
define function
	$(CARGO_LAMBDA) build --profile function $(ARCH_FLAG) --bin $(1)
	cp target/lambda/$(1)/bootstrap "$(ARTIFACTS_DIR)/bootstrap"
endef

.PHONY: build-RegisterFunction build-GetFunction build-UpdateFunction \
	build-DeleteFunction build-MetadataFunction build-SweepFunction \
	build-AuthenticateClientFunction build-ClientEventsFunction

build-RegisterFunction:
	$(call function,register-client)

build-GetFunction:
	$(call function,get-client)

build-UpdateFunction:
	$(call function,update-client)

build-DeleteFunction:
	$(call function,delete-client)

build-MetadataFunction:
	$(call function,server-metadata)

build-SweepFunction:
	$(call function,sweep-clients)

build-AuthenticateClientFunction:
	$(call function,authenticate-client)

build-ClientEventsFunction:
	$(call function,client-events)
