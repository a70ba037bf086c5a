// The configuration types live in `TandemGatewayConfig` (no server dependencies) so that the
// topology can build the gateway's configuration from the same types the gateway decodes.
@_exported import TandemGatewayConfig
