namespace Proofsheet.IntegrationTests.Infrastructure;

public static class TestPaths
{
    /// <summary>The checkout this test build belongs to (the folder holding Proofsheet.slnx).</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Proofsheet.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"Could not find the repository root (Proofsheet.slnx) above {AppContext.BaseDirectory}.");
    }
}
