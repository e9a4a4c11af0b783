import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SQLAnalysis

/// `pgstash analyze [--json] "SQL"`: prints the analysis the proxy would make of the SQL.
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze", abstract: "Print pgstash's analysis of SQL (argument or stdin).")

    @Flag(name: .long, help: "Print a JSON array, one object per statement.")
    var json = false

    /// `.allUnrecognized` so that SQL starting with a `--` comment is taken as SQL, not as an option.
    @Argument(parsing: .allUnrecognized, help: "The SQL; read from standard input when omitted.")
    var sql: [String] = []

    func run() throws {
        let words = sql.first == "--" ? Array(sql.dropFirst()) : sql
        let text = words.isEmpty ? readStandardInput() : words.joined(separator: " ")
        let analysis = SQLAnalyzer.analyze(text)
        if case .error = analysis {
            // The parser's message and position go to stderr; --json also gets the error object.
            if json { print(renderJSON(analysis)) }
            FileHandleOutput.standardError(renderText(analysis))
            throw ExitCode(1)
        }
        print(json ? renderJSON(analysis) : renderText(analysis))
    }

    private func readStandardInput() -> String {
        var lines: [String] = []
        while let line = readLine(strippingNewline: false) { lines.append(line) }
        return lines.joined()
    }
}

/// Writes a line to standard error without Foundation.
private enum FileHandleOutput {
    static func standardError(_ line: String) {
        let text = line + "\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}
