extension ExchangeContracts {
    /// The contract set of one order version, read from the configured registry by exchange name
    /// (addresses are never compiled in). `negRiskExchange` must be configured with `neg_risk: true`.
    public init(
        registry: ExchangeRegistry, exchange: String, negRiskExchange: String, domainVersion: String
    ) throws(RegistryError) {
        func find(_ name: String, negRisk: Bool) throws(RegistryError) -> ExchangeContract {
            guard let contract = registry.contracts.first(where: { $0.name == name }) else {
                throw RegistryError(
                    file: "contracts", keyPath: "exchanges",
                    message:
                        "no exchange named '\(name)' (configured: \(registry.contracts.map(\.name).joined(separator: ", ")))"
                )
            }
            guard contract.negRisk == negRisk else {
                throw RegistryError(
                    file: "contracts", keyPath: "exchanges",
                    message:
                        "'\(name)' is \(negRisk ? "not " : "")a NegRisk exchange (neg_risk: \(contract.negRisk))"
                )
            }
            return contract
        }
        self.init(
            domainVersion: domainVersion, chainId: registry.chainId,
            exchange: try find(exchange, negRisk: false).address,
            negRiskExchange: try find(negRiskExchange, negRisk: true).address)
    }
}
