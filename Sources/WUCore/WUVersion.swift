/// The version every program reports (`--version`, the runner's registration, the client's User-Agent).
public enum WUVersion {
    public static let current = "0.1.0"
}
