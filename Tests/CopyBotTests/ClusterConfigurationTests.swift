import CopyBot
import Foundation
import Testing

@Suite("Configuration: cluster")
struct ClusterConfigurationTests {
    @Test func theDefaultsAreOneProcessDoingEverything() throws {
        let report = try ConfigurationTests.check("")
        #expect(report.errors == [], "\(report.errors)")
        let cluster = report.configuration.cluster
        #expect(cluster.role == .all)
        #expect(cluster.name == nil)
        #expect(cluster.memberName.hasSuffix(":\(ProcessInfo.processInfo.processIdentifier)"))
        #expect(cluster.failoverAfter == .seconds(10))
        #expect(cluster.lease == .seconds(10))
    }

    @Test func rolesNamesAndBoundsAreRead() throws {
        let yaml = """
            store:
              url: postgres://copybot@db.internal:5432/copybot
            cluster:
              role: executor
              name: box-2
              failover_after: 4.5
              lease_seconds: 6
            """
        let report = try ConfigurationTests.check(yaml)
        #expect(!report.errors.contains { $0.keyPath.hasPrefix("cluster") }, "\(report.errors)")
        let cluster = report.configuration.cluster
        #expect(cluster.role == .executor)
        #expect(cluster.memberName == "box-2")
        #expect(cluster.failoverAfter == .milliseconds(4_500))
        #expect(cluster.lease == .seconds(6))
        // The environment wins, as for every key.
        let listener = try ConfigurationTests.check(yaml, environment: ["COPYBOT_CLUSTER_ROLE": "listener"])
        #expect(listener.configuration.cluster.role == .listener)
    }

    @Test func aClusterRoleNeedsPostgreSQLAndSaneTimes() throws {
        let report = try ConfigurationTests.check(
            "cluster:\n  role: listener\n  failover_after: 1\n  lease_seconds: 9999\n")
        let errors = Dictionary(report.errors.map { ($0.keyPath, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(errors["cluster.role"]?.message.contains("PostgreSQL") == true, "\(report.errors)")
        #expect(errors["cluster.failover_after"] != nil)
        #expect(errors["cluster.lease_seconds"] != nil)
        let typo = try ConfigurationTests.check("cluster:\n  role: executer\n")
        #expect(typo.errors.first { $0.keyPath == "cluster.role" }?.fix.contains("executor") == true)
    }

    @Test func runRefusesAClusterRoleOnSQLite() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        let result = try await ServiceTestSupport.runCopybot(
            ["run", "--role", "executor"],
            environment: [
                "COPYBOT_STORE_URL":
                    "sqlite:\(FileManager.default.temporaryDirectory.path)/copybot-role-\(UUID()).sqlite"
            ])
        #expect(result.status == 1)
        #expect(result.output.contains("needs a PostgreSQL store"), "\(result.output)")
    }
}
