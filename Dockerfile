# One image for every AgentBus program; the command chooses which one runs (docker-compose.yml):
#   agentbus-policy.dll | agentbus-projections.dll | agentbus-executor.dll --tool NAME | agentbus-approvals.dll |
#   agentbus-console.dll (the operator console) | agentbus-mcp.dll (the MCP gateway) | agentbus-sandbox-api.dll | agentbus.dll (the operator CLI) | agentbus-demo-agent.dll
#
#   docker build -t agentbus:local .
#   docker run --rm agentbus:local agentbus.dll --help

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ENV DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
WORKDIR /src

# The programs the image holds.
ARG HOSTS="src/AgentBus.Policy src/AgentBus.Projections src/AgentBus.Executor src/AgentBus.Approvals src/AgentBus.OperatorConsole src/AgentBus.Mcp src/AgentBus.SandboxApi src/AgentBus.Cli src/AgentBus.DemoAgent"

# Restore from the project files alone, so this layer is reused until a package version or a project
# reference changes. A new project that a host references needs its line here.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY contracts/AgentBus.Contracts/AgentBus.Contracts.csproj contracts/AgentBus.Contracts/
COPY src/AgentBus.ServiceDefaults/AgentBus.ServiceDefaults.csproj src/AgentBus.ServiceDefaults/
COPY src/AgentBus.Policy.Engine/AgentBus.Policy.Engine.csproj src/AgentBus.Policy.Engine/
COPY src/AgentBus.Audit/AgentBus.Audit.csproj src/AgentBus.Audit/
COPY src/AgentBus.Client/AgentBus.Client.csproj src/AgentBus.Client/
COPY src/AgentBus.Policy/AgentBus.Policy.csproj src/AgentBus.Policy/
COPY src/AgentBus.Projections/AgentBus.Projections.csproj src/AgentBus.Projections/
COPY src/AgentBus.Executor/AgentBus.Executor.csproj src/AgentBus.Executor/
COPY src/AgentBus.Approvals/AgentBus.Approvals.csproj src/AgentBus.Approvals/
COPY src/AgentBus.Catalog/AgentBus.Catalog.csproj src/AgentBus.Catalog/
COPY src/AgentBus.DataBoundaries/AgentBus.DataBoundaries.csproj src/AgentBus.DataBoundaries/
COPY src/AgentBus.Operations/AgentBus.Operations.csproj src/AgentBus.Operations/
COPY src/AgentBus.OperatorConsole/AgentBus.OperatorConsole.csproj src/AgentBus.OperatorConsole/
COPY src/AgentBus.Mcp/AgentBus.Mcp.csproj src/AgentBus.Mcp/
COPY src/AgentBus.SandboxApi/AgentBus.SandboxApi.csproj src/AgentBus.SandboxApi/
COPY src/AgentBus.Cli/AgentBus.Cli.csproj src/AgentBus.Cli/
COPY src/AgentBus.DemoAgent/AgentBus.DemoAgent.csproj src/AgentBus.DemoAgent/
RUN for host in $HOSTS; do dotnet restore "$host" || exit 1; done

# Every program into one folder: the hosts keep their defaults in code, not in appsettings.json, so
# their files do not collide (web.config, which each web host would write, is turned off).
COPY .editorconfig ./
COPY contracts/ contracts/
COPY src/ src/
RUN for host in $HOSTS; do \
      dotnet publish "$host" --no-restore -c Release -o /app -p:UseAppHost=false -p:IsTransformWebConfigDisabled=true || exit 1; \
    done

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
# Relative to the working directory, as the programs expect: the policy and the operation catalog it names, the tool files (ops/tools for
# 127.0.0.1, ops/compose/tools for the compose network) and the compose helper scripts.
COPY ops/policies/ ops/policies/
COPY ops/gates.yaml ops/gates.yaml
COPY ops/catalog/ ops/catalog/
COPY ops/tools/ ops/tools/
COPY ops/compose/tools/ ops/compose/tools/
COPY ops/compose/setup.sh ops/compose/http-ok.sh ops/compose/
RUN chmod 0755 ops/compose/*.sh
# Each host sets its own Urls; the base image's HTTP_PORTS=8080 would only add an "Overriding" warning.
ENV ASPNETCORE_HTTP_PORTS= MASSTRANSIT_USAGE_TELEMETRY=false
USER $APP_UID
ENTRYPOINT ["dotnet"]
CMD ["agentbus.dll", "--help"]
