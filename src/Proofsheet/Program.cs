using Proofsheet;
using Proofsheet.Auth;
using Proofsheet.Backup;
using Proofsheet.Cluster;
using Proofsheet.Data;
using Proofsheet.Email;
using Proofsheet.Health;
using Proofsheet.Hub;
using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Publishing;
using Proofsheet.Review;
using Proofsheet.Site;
using Proofsheet.Tasks;
using Proofsheet.Telemetry;
using Proofsheet.Webhooks;
using Proofsheet.Writing;

// `Proofsheet backup FILE` / `Proofsheet restore FILE` run beside (or before) the app and exit.
if (await BackupCommand.TryRunAsync(args) is { } exitCode)
{
    return exitCode;
}

// Each step below is timed; one log line after the first answered request says where start-up went.
var startup = StartupTimings.Begin();
var builder = WebApplication.CreateBuilder(args);
startup.WatchHost(builder);
startup.Mark("create builder");
builder.AddWeb();
builder.AddTelemetry();
builder.AddData();
builder.AddCluster();
builder.AddAuth();
builder.AddHealth();
builder.AddWriting();
builder.AddImages();
builder.AddPreviewStore();
builder.AddPublishing();
builder.AddWebhooks();
builder.AddEmail();
builder.AddTasks();
builder.AddPostCache();
builder.AddHub();
builder.AddReviewLinks();

var app = builder.Build();
startup.Mark("build");
app.Services.GetRequiredService<AppPaths>().EnsureCreated();
await app.Services.MigrateDatabaseAsync();
startup.Mark("migrations");
await app.Services.JoinClusterAsync();
startup.Mark("cluster");
await app.Services.GetRequiredService<AdminPassword>().InitializeAsync(CancellationToken.None);
await app.Services.GetRequiredService<Proofsheet.People.PeopleStore>().InitializeAsync(CancellationToken.None);
await app.Services.GetRequiredService<ApiKeyStore>().InitializeAsync(CancellationToken.None);
startup.Mark("accounts");
app.Services.StartTelemetry();
startup.Mark("telemetry");

startup.ReportAfterFirstRequest(app);
app.UseCluster();
app.UseWeb();
// Public reads (post API, post pages, feeds) are answered from the output cache here, before
// authentication, static-file probing and antiforgery: nothing in them depends on who asks, and
// only endpoints marked CachedAsPublished are touched (the Hub's event streams pass straight by).
app.UseOutputCache();
app.UseAuthentication();
app.UseAuthorization();
app.MapMetrics();
app.UseHub();
app.MapOpenApi();
app.MapHealth();
app.MapMediaFolder();
app.MapTasks();
app.MapMedia();
app.MapPosts();
app.MapHub();
app.MapReviewLinks();
app.MapSite();
startup.Mark("pipeline");

app.Run();
return 0;

public partial class Program;
