import Foundation
import Hummingbird
import ReachApp
import ReachProjections

/// The page for researchers: the research views with their columns as PostgreSQL describes
/// them, each metric's definition by name, and R and Python to paste that read this service's
/// figures (as a data frame) or the views themselves.
extension WebPages {
    /// The pages of WebResearch, each handler a named method (see `addRoutes`).
    struct ResearchPages {
        let app: ReachApplication

        func addRoutes(to pages: RouterGroup<ReachRequestContext>) {
            pages.get("/research", use: research)
        }

        @Sendable func research(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let views = try await app.researchViews(as: identity)
            // The address the asker reached this service at, for the snippets.
            let host =
                request.head.authority.flatMap { $0.range(of: "^[A-Za-z0-9.:\\[\\]-]+$", options: .regularExpression) != nil ? $0 : nil }
                ?? "127.0.0.1:8080"
            let base = "http://\(host)"
            let r = """
                library(httr2)
                figures <- request("\(base)/api/v1/metrics") |>
                  req_url_query(period = "2024/25", by = "la", metric = "attendances", format = "csv") |>
                  req_auth_bearer_token(Sys.getenv("REACH_TOKEN")) |>
                  req_perform() |> resp_body_string() |> readr::read_csv()
                """
            let python = """
                import io, os, pandas as pd, requests
                r = requests.get("\(base)/api/v1/metrics",
                                 params={"period": "2024/25", "by": "la", "metric": "attendances", "format": "csv"},
                                 headers={"Authorization": f"Bearer {os.environ['REACH_TOKEN']}"})
                r.raise_for_status()
                figures = pd.read_csv(io.StringIO(r.text))
                """
            let sql = """
                # With a database login in the role reach_researcher (ask the programme's admin):
                con <- DBI::dbConnect(RPostgres::Postgres(), host = "DATABASE_HOST", dbname = "reach", user = "YOUR_LOGIN")
                sessions <- DBI::dbGetQuery(con, "SELECT kind, count(*) AS n FROM research.activities GROUP BY kind")
                """
            return page(
                "research", title: "For researchers", status: .ok, identity: identity, csrf: csrf,
                [
                    "views": views.map { view -> [String: Any] in
                        [
                            "name": view.name, "comment": view.comment,
                            "columns": view.columns.map { ["name": $0.name, "type": $0.type, "comment": $0.comment] },
                        ]
                    },
                    "metrics": Metric.allCases.map { ["name": $0.rawValue, "definition": $0.definition] },
                    "r": r, "python": python, "sql": sql, "base": base,
                ])
        }
    }
}
