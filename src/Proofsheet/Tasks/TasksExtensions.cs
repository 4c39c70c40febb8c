using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Publishing;

namespace Proofsheet.Tasks;

public static class TasksExtensions
{
    public static WebApplicationBuilder AddTasks(this WebApplicationBuilder builder)
    {
        builder.Services.AddSection<PipelineOptions>(PipelineOptions.Section);
        builder.Services.AddSection<PostOptions>(PostOptions.Section);
        builder.Services.AddSection<StorageOptions>(StorageOptions.Section);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<TaskQueue>();
        builder.Services.AddSingleton<TaskEventStream>();
        builder.Services.AddSingleton<PostReserver>();
        builder.Services.AddSingleton<CandidateGenerator>();
        builder.Services.AddSingleton<Publisher>();
        builder.Services.AddSingleton<PublishedCopies>();
        builder.Services.AddSingleton<TaskPipeline>();
        builder.Services.AddSingleton<TaskActions>();
        builder.Services.AddHostedService<TaskWorker>();
        builder.Services.AddSingleton<ScheduledPublisher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ScheduledPublisher>());
        builder.Services.AddSingleton<PreviewSweeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PreviewSweeper>());
        return builder;
    }
}
