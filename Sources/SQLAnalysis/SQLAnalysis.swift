public enum SQLAnalysisPlaceholder {}
